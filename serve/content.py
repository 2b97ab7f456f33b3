"""SageMaker content types: request bodies -> model inputs, outputs -> the answer `Accept` asks for.

JSON (application/json, application/jsonlines, application/jsons) and CSV bodies are read as
AWS's TF Serving container reads them (tensorflowServing.js: json_request, csv_request):
a body naming "instances", "inputs" or "examples" is TF Serving's JSON; JSON documents one
after another are one instance each; any other JSON is one instance, unless it is a list of
lists (several instances). A CSV line is one instance; a line without a comma is one value.
The answers to JSON requests are TF Serving's JSON on one line, with the Content-Type the
Accept header names first (application/jsonlines included), as AWS's container answers.

The type names are the sagemaker-inference toolkit's (`content_types`); the toolkit itself is
not a dependency: it pulls in scipy and psutil for a handful of constants, and its npy decoder
loads pickles. Arrays are read here with allow_pickle=False.

An image body (application/x-image, image/jpeg, image/png: the file itself, as SageMaker's
built-in image algorithms take it) is the one image of a single-input image model, decoded
in the pipeline (ie_serving/images.py); AWS's container answers these types 415 unless
custom code handles them.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Mapping

import numpy as np
import orjson

from ie_serving.dtypes import STRING
from ie_serving.errors import InvalidInput, NotAcceptable, UnsupportedMediaType
from ie_serving.json_predict import JsonPredictBody
from ie_serving.json_tensors import Format, encode_predict, parse_body, to_array
from ie_serving.tensor_spec import Decoded, SignatureLookup, TensorSpec

JSON = "application/json"
JSONLINES = "application/jsonlines"
JSONS = "application/jsons"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
JSON_TYPES = (JSON, JSONLINES, JSONS)
IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png")
REQUEST_TYPES = (*JSON_TYPES, CSV, NPY, NPZ, *IMAGE_TYPES)
ANSWER_TYPES = (JSON, JSONLINES, NPY, NPZ, CSV)

# AWS's tests on the body's text (tensorflowServing.js is_tfs_json, is_json_lines)
_TF_SERVING_JSON = re.compile(rb'"(instances|inputs|examples)"\s*:')
_JSON_DOCUMENTS = re.compile(rb"[}\]]\s*[\[{]")


def media_type(header: str | None) -> str:
    """`text/csv; charset=utf-8` -> `text/csv`."""
    return (header or "").split(";", 1)[0].strip().lower()


def answer_type(accept: str | None) -> str:
    """The first type of the Accept header that we write; JSON for none or */*."""
    for item in (accept or "").split(","):
        kind = media_type(item)
        if kind in ("", "*/*", "application/*"):
            return JSON
        if kind in ANSWER_TYPES:
            return kind
    raise NotAcceptable(f"Accept {accept!r}: answers are one of {', '.join(ANSWER_TYPES)}")


def _single_input(specs: Mapping[str, TensorSpec], content_type: str) -> str:
    if len(specs) != 1:
        raise InvalidInput(
            f"{content_type} carries one tensor but the model has inputs {sorted(specs)}; "
            f"send {JSON} or {NPZ} with one entry per input"
        )
    return next(iter(specs))


def _load_npy(body: bytes) -> np.ndarray:
    """The array of an .npy body as a read-only view of the body itself (no copy of a body that
    may be a gigabyte); object arrays (pickles) and truncated data are refused."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not read; send version 1.0 or 2.0")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(stream)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInput(f"{NPY} body is not a readable .npy array without pickles: {exc}") from None
    if dtype.hasobject:
        raise InvalidInput(f"{NPY} body holds Python objects (pickles), which are refused: send a numeric array")
    count = math.prod(shape)
    if len(body) - stream.tell() != count * dtype.itemsize:
        raise InvalidInput(
            f"{NPY} body: the header declares shape {list(shape)} of {dtype} ({count * dtype.itemsize} bytes), "
            f"but {len(body) - stream.tell()} bytes follow it"
        )
    array = np.frombuffer(body, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape, order="F" if fortran_order else "C")


def _load_npz(body: bytes) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidInput(f"{NPZ} body is not a readable .npz archive without pickles: {exc}") from None


def sagemaker_document(body: bytes) -> object:
    """A SageMaker JSON body as the TF Serving document AWS's container makes of it."""
    if _TF_SERVING_JSON.search(body):
        return parse_body(body)
    if _JSON_DOCUMENTS.search(body):
        lines = [line for line in body.strip().splitlines() if line.strip()]
        if len(lines) == 1:  # AWS sends the single line itself as the instances
            return {"instances": parse_body(lines[0])}
        return {"instances": [parse_body(line) for line in lines]}
    document = parse_body(body)
    several = isinstance(document, list) and bool(document) and isinstance(document[0], list)
    return {"instances": document if several else [document]}


def _csv_rows(body: bytes) -> list:
    """CSV text as AWS reads it: one instance per line; a line with commas is a list of
    numbers, a line without one is a single number."""
    rows = []
    for number, line in enumerate(body.splitlines(), 1):
        if line.strip():
            try:
                row = orjson.loads(b"[" + line + b"]")
            except orjson.JSONDecodeError:
                raise InvalidInput(f"{CSV} line {number}: expected numbers separated by commas") from None
            rows.append(row if b"," in line else row[0])
    if not rows:
        raise InvalidInput(f"{CSV} body holds no rows")
    return rows


def _shaped_rows(name: str, rows: list, spec: TensorSpec) -> np.ndarray:
    """Rows as instances of the input: a row whose values fill the input's static inner
    dimensions exactly is reshaped to them (a single column to [-1, 1], 12 values to [-1, 3, 4])."""
    array = to_array(name, rows, spec)
    inner = spec.shape[1:] if spec.shape else ()
    values = int(np.prod(array.shape[1:]))
    if inner and -1 not in inner and array.shape[1:] != inner and int(np.prod(inner)) == values and array.ndim <= 2:
        array = array.reshape((array.shape[0], *inner))
    return array


class _TensorBody:
    """application/x-npz (named tensors, answered in the column format), application/x-npy,
    text/csv and the image types (the one input of a single-input model, answered in the row
    format)."""

    def __init__(self, content_type: str, body: bytes):
        self.content_type = content_type
        self.body = body
        self.form = Format.COLUMN if content_type == NPZ else Format.ROW

    def __call__(self, signature_of: SignatureLookup) -> Decoded:
        if self.content_type == NPZ:
            return Decoded(_load_npz(self.body))
        specs = signature_of("").inputs
        name = _single_input(specs, self.content_type)
        if self.content_type == NPY:
            return Decoded({name: _load_npy(self.body)})
        if self.content_type in IMAGE_TYPES:
            files = np.empty(1, dtype=STRING)
            files[0] = self.body
            return Decoded({name: files})
        return Decoded({name: _shaped_rows(name, _csv_rows(self.body), specs[name])})


def decoder(content_type: str, body: bytes) -> JsonPredictBody | _TensorBody:
    """The service Decoder for a body of `content_type`; its `form` says how JSON answers look.
    UnsupportedMediaType for a type /invocations does not read."""
    if content_type not in REQUEST_TYPES:
        raise UnsupportedMediaType(f"Content-Type {content_type!r}: expected one of {', '.join(REQUEST_TYPES)}")
    if content_type in JSON_TYPES:
        return JsonPredictBody(body, parse=sagemaker_document, bare_lists=True)
    return _TensorBody(content_type, body)


def _single_output(outputs: Mapping[str, np.ndarray], accept: str) -> np.ndarray:
    if len(outputs) != 1:
        raise InvalidInput(f"Accept {accept} carries one tensor but the model answers {sorted(outputs)}; ask for {NPZ}")
    return next(iter(outputs.values()))


def _csv_text(array: np.ndarray) -> bytes:
    rows = array.reshape(array.shape[0], -1) if array.ndim > 1 else array.reshape(-1, 1)
    fmt = "%d" if array.dtype.kind in "iub" else ("%.9g" if array.dtype.itemsize <= 4 else "%.17g")
    buffer = io.StringIO()
    np.savetxt(buffer, rows, fmt=fmt, delimiter=",")
    return buffer.getvalue().encode()


def encode(form: Format, outputs: Mapping[str, np.ndarray], accept: str) -> bytes:
    """The answer body in the `accept` type (one of ANSWER_TYPES)."""
    if accept in (JSON, JSONLINES):  # TF Serving's JSON on one line, as AWS's container answers both
        return encode_predict(form, outputs)
    buffer = io.BytesIO()
    if accept == NPZ:
        np.savez(buffer, **outputs)
        return buffer.getvalue()
    array = _single_output(outputs, accept)
    if accept == CSV:
        return _csv_text(array)
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
