"""SageMaker content types: request bodies -> model inputs, outputs -> the answer `Accept` asks for.

The type names are the sagemaker-inference toolkit's (`content_types`); the toolkit itself is
not a dependency: it pulls in scipy and psutil for a handful of constants, and its npy decoder
loads pickles. Arrays are read here with allow_pickle=False.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping

import numpy as np
import orjson

from ie_serving.errors import InvalidInput, NotAcceptable, UnsupportedMediaType
from ie_serving.json_predict import JsonPredictBody
from ie_serving.json_tensors import Format, encode_predict, may_hold_bools, parse_body, to_array
from ie_serving.tensor_spec import Decoded, SignatureLookup, TensorSpec

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
REQUEST_TYPES = (JSON, JSONLINES, CSV, NPY, NPZ)
ANSWER_TYPES = (JSON, JSONLINES, NPY, NPZ, CSV)


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
    try:
        return np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInput(f"{NPY} body is not a readable .npy array without pickles: {exc}") from None


def _load_npz(body: bytes) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidInput(f"{NPZ} body is not a readable .npz archive without pickles: {exc}") from None


def _csv_rows(body: bytes) -> list:
    """CSVSerializer's text: one row per line, numbers separated by commas."""
    rows = []
    for number, line in enumerate(body.splitlines(), 1):
        if line.strip():
            try:
                rows.append(orjson.loads(b"[" + line + b"]"))
            except orjson.JSONDecodeError:
                raise InvalidInput(f"{CSV} line {number}: expected numbers separated by commas") from None
    if not rows:
        raise InvalidInput(f"{CSV} body holds no rows")
    return rows


def _shaped_rows(name: str, rows: list, spec: TensorSpec) -> np.ndarray:
    """Rows as instances of the input: each row is reshaped to the input's static inner dims."""
    array = to_array(name, rows, spec)
    inner = spec.shape[1:] if spec.shape else ()
    if array.ndim == 2 and len(inner) > 1 and -1 not in inner and int(np.prod(inner)) == array.shape[1]:
        array = array.reshape((array.shape[0], *inner))
    return array


class _JsonLines(JsonPredictBody):
    """application/jsonlines: one instance per line."""

    def __call__(self, signature_of: SignatureLookup) -> Decoded:
        instances = [parse_body(line) for line in self.body.splitlines() if line.strip()]
        return self.decode_document({"instances": instances}, signature_of, may_hold_bools(self.body))


class _TensorBody:
    """application/x-npz (named tensors, answered in the column format), application/x-npy and
    text/csv (the one input of a single-input model, answered in the row format)."""

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
        return Decoded({name: _shaped_rows(name, _csv_rows(self.body), specs[name])})


def decoder(content_type: str, body: bytes) -> JsonPredictBody | _TensorBody:
    """The service Decoder for a body of `content_type`; its `form` says how JSON answers look.
    UnsupportedMediaType for a type /invocations does not read."""
    if content_type not in REQUEST_TYPES:
        raise UnsupportedMediaType(f"Content-Type {content_type!r}: expected one of {', '.join(REQUEST_TYPES)}")
    if content_type == JSON:
        return JsonPredictBody(body, bare_value_is_instances=True)
    if content_type == JSONLINES:
        return _JsonLines(body)
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
    if accept == JSON:
        return encode_predict(form, outputs)
    if accept == JSONLINES:
        predictions = parse_body(encode_predict(Format.ROW, outputs))["predictions"]
        return "".join(json.dumps(row) + "\n" for row in predictions).encode()
    buffer = io.BytesIO()
    if accept == NPZ:
        np.savez(buffer, **outputs)
        return buffer.getvalue()
    array = _single_output(outputs, accept)
    if accept == CSV:
        return _csv_text(array)
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
