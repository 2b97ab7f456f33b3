"""KServe v2 / Open Inference Protocol tensors over HTTP <-> numpy: the JSON inference request
and response (kserve/open-inference-protocol specification/protocol/inference_rest.md) and
Triton's binary tensor data extension (triton-inference-server/server
docs/protocol/extension_binary_data.md). No OpenVINO, Flask or gRPC here.

A request body is a JSON object, optionally followed by binary tensor data; the
`Inference-Header-Content-Length` header gives the JSON's length. Each input carries its
`data` as JSON (flat or nested, row-major) or `parameters.binary_data_size` bytes of the binary
part, inputs taking their bytes in the order they are listed. Binary data is little-endian,
row-major; BOOL is one byte per element; a BYTES element is a 4-byte little-endian length and
its bytes. Every size is checked against the shape and the body before an array is made.
Outputs go back as JSON `data`, or as binary when `binary_data` (per output) or
`binary_data_output` (per request) asks for it.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import simdjson

from ie_serving import json_fast
from ie_serving.dtypes import BFLOAT16, NUMPY_BY_V2_NAME, STRING, v2_name
from ie_serving.errors import InvalidInput, Unimplemented
from ie_serving.json_tensors import may_hold_bools
from ie_serving.tensor_spec import Decoded, SignatureLookup, TensorSpec

HEADER_LENGTH = "Inference-Header-Content-Length"
DATATYPES = tuple(NUMPY_BY_V2_NAME)
_LENGTH = struct.Struct("<I")  # a BYTES element's length prefix
_FLOAT_DATATYPES = frozenset({"FP16", "BF16", "FP32", "FP64"})
_EXACT_IN_FLOAT64 = 2**53  # integers past it were rounded once by simdjson: the general parse rounds once


@dataclasses.dataclass(frozen=True)
class RequestedOutput:
    """An output the request names; binary None: as the request's binary_data_output says."""

    name: str
    binary: bool | None = None


@dataclasses.dataclass
class InferRequest:
    """What a v2 request asks for besides its inputs, for the answer (either transport)."""

    id: str = ""
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    outputs: Sequence[RequestedOutput] = ()
    binary_output: bool = False  # binary_data_output


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def numpy_dtype(datatype: object, where: str) -> np.dtype:
    """The numpy dtype of a v2 datatype name; InvalidInput naming the known ones."""
    dtype = NUMPY_BY_V2_NAME.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise InvalidInput(f"{where}: unknown datatype {datatype!r}; expected one of {', '.join(DATATYPES)}")
    return dtype


def element_count(shape: object, where: str) -> int:
    """The number of elements of a v2 shape (a list of non-negative integers), computed without
    allocating anything; InvalidInput for anything else."""
    if not isinstance(shape, list | tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise InvalidInput(f"{where}: 'shape' must be an array of non-negative integers, got {shape!r}")
    return math.prod(shape)


def _bytes_elements(chunk: memoryview, count: int, where: str) -> np.ndarray:
    """`count` BYTES elements, each a 4-byte little-endian length and its bytes, filling `chunk`
    (a count the bytes cannot hold is refused before anything is allocated)."""
    if count * 4 > len(chunk):
        raise InvalidInput(f"{where}: {count} BYTES elements need at least {count * 4} bytes, the data is {len(chunk)}")
    elements = np.empty(count, dtype=STRING)
    offset = 0
    for index in range(count):
        if offset + 4 > len(chunk):
            raise InvalidInput(f"{where}: BYTES data ends after {index} of {count} elements ({len(chunk)} bytes)")
        (length,) = _LENGTH.unpack_from(chunk, offset)
        offset += 4
        if offset + length > len(chunk):
            raise InvalidInput(
                f"{where}: BYTES element {index} declares {length} bytes, only {len(chunk) - offset} remain"
            )
        elements[index] = bytes(chunk[offset : offset + length])
        offset += length
    if offset != len(chunk):
        raise InvalidInput(f"{where}: {len(chunk) - offset} bytes left over after {count} BYTES elements")
    return elements


def binary_tensor(chunk: memoryview | bytes, datatype: str, shape: Sequence[int], where: str) -> np.ndarray:
    """A tensor from its raw bytes (little-endian, row-major); the byte count must be what the
    shape and datatype make. The array shares the bytes (read-only) for numeric datatypes."""
    dtype = numpy_dtype(datatype, where)
    count = element_count(shape, where)
    chunk = memoryview(chunk)
    if dtype == STRING:
        return _bytes_elements(chunk, count, where).reshape(shape)
    expected = count * dtype.itemsize
    if len(chunk) != expected:
        raise InvalidInput(
            f"{where}: shape {list(shape)} of {datatype} is {expected} bytes, the tensor data is {len(chunk)} bytes"
        )
    return np.frombuffer(chunk, dtype).reshape(shape)  # numpy's native order: little-endian hosts


# the kinds of JSON numbers each datatype kind takes: no floats into integers, booleans only into BOOL
_JSON_KINDS = {"b": "b", "i": "iu", "u": "iu", "f": "iuf", "V": "iuf"}  # V: ml_dtypes' bfloat16
_KIND_WORDS = {"b": "true/false", "i": "integers", "u": "integers", "f": "numbers with a fraction", "U": "strings"}


def json_tensor(
    data: object, datatype: str, shape: Sequence[int], where: str, may_hold_bools: bool = True
) -> np.ndarray:
    """A tensor from JSON `data`, flat or nested row-major (the nesting is not checked, as
    Triton reads it: the values in order), holding exactly the shape's element count of values
    that fit the datatype (BYTES: strings). may_hold_bools False (the body has no true/false
    literal) skips the check that no boolean hides among numbers."""
    dtype = numpy_dtype(datatype, where)
    count = element_count(shape, where)
    if isinstance(data, np.ndarray):  # float data simdjson read (_parse_with_float_arrays)
        values = data
    elif dtype == STRING:
        data = data if isinstance(data, list) else [data]
        flat = _flatten(data)
        if not all(isinstance(value, str) for value in flat):
            raise InvalidInput(f"{where}: BYTES data must be strings")
        values = np.empty(len(flat), dtype=STRING)
        values[:] = [value.encode() for value in flat]
    else:
        data = data if isinstance(data, list) else [data]
        try:
            values = np.asarray(data)
        except ValueError:  # nested lists of unequal lengths: only the values count, in order
            data = _flatten(data)
            values = np.asarray(data)
        exact = _exact_integers(data) if dtype.kind in "iu" and values.dtype.kind in "fO" else None
        if exact is not None:
            values = exact
        elif values.size and values.dtype.kind not in _JSON_KINDS[dtype.kind]:
            wanted = {"b": "true/false", "iu": "integers", "iuf": "numbers"}[_JSON_KINDS[dtype.kind]]
            got = _KIND_WORDS.get(values.dtype.kind, "values of mixed types or out of every integer range")
            raise InvalidInput(f"{where}: datatype {datatype} takes {wanted} in 'data', got {got}")
        elif may_hold_bools and dtype.kind != "b" and any(isinstance(value, bool) for value in _flatten(data)):
            raise InvalidInput(f"{where}: datatype {datatype} takes numbers in 'data', got true/false among them")
    if values.size != count:
        raise InvalidInput(f"{where}: shape {list(shape)} holds {count} elements, 'data' has {values.size}")
    if dtype.kind in "iu" and values.size:
        info = np.iinfo(dtype)
        if values.min() < info.min or values.max() > info.max:
            raise InvalidInput(f"{where}: a value in 'data' is outside {datatype}'s range [{info.min}, {info.max}]")
    return values.astype(dtype, copy=False).reshape(shape)


def _exact_integers(data: list) -> np.ndarray | None:
    """Integers that numpy reads as floats or objects (int64 values beside ones past int64, as
    UINT64 data has) kept exact: an object array of Python ints, which the range check reads;
    None when some value is not an integer."""
    flat = _flatten(data)
    if not flat or not all(isinstance(value, int) and not isinstance(value, bool) for value in flat):
        return None
    exact = np.empty(len(flat), dtype=object)
    exact[:] = flat
    return exact


def _flatten(data: list) -> list:
    """The leaves of a nested list, row-major."""
    flat: list = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            flat.append(value)
        else:
            stack.pop()
    return flat


def _object(value: object, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object, got {_kind(value)}")
    return value


def _flag(parameters: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = parameters.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{where}: parameter {key!r} must be true or false, got {value!r}")
    return value


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """The JSON part and the binary part of a request body, by Inference-Header-Content-Length
    (absent: all JSON; 0: all binary, a raw binary request). A length that is not a number, or
    past the body's end, is InvalidInput."""
    if header_length is None:
        return body, memoryview(b"")
    text = header_length.strip()
    if not text.isdigit():
        raise InvalidInput(f"{HEADER_LENGTH} must be a number of bytes, got {header_length!r}")
    length = int(text)
    if length > len(body):
        raise InvalidInput(f"{HEADER_LENGTH} is {length} bytes, past the end of the {len(body)}-byte body")
    view = memoryview(body)
    return bytes(view[:length]), view[length:]


class V2JsonBody:
    """A service Decoder for one v2 HTTP inference request (JSON, with binary tensor data when
    `header_length` is given); `request` holds what the answer needs once it has decoded."""

    def __init__(self, body: bytes, header_length: str | None = None):
        self.body = body
        self.header_length = header_length
        self.request = InferRequest()

    def __call__(self, signature_of: SignatureLookup) -> Decoded:
        header, binary = split_body(self.body, self.header_length)
        if self.header_length is not None and not header:
            self.request = InferRequest(binary_output=True)  # a raw request's outputs are all binary
            name, array = raw_request_tensor(binary, signature_of("").inputs)
            return Decoded({name: array}, "", (), v2_name)
        document = _parse_with_float_arrays(header) or _parse(header, self.header_length is not None)
        self.request = _request_fields(document)
        inputs = document.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise InvalidInput(f"'inputs' must be a non-empty array of input tensors, got {_kind(inputs)}")
        decoded: dict[str, np.ndarray] = {}
        offset = 0
        bools = may_hold_bools(header)
        for index, tensor in enumerate(inputs):
            name, array, offset = _input(tensor, index, binary, offset, self.header_length is not None, bools)
            if name in decoded:
                raise InvalidInput(f"input {name!r} is given twice")
            decoded[name] = array
        if offset != len(binary):
            raise InvalidInput(
                f"the body holds {len(binary) - offset} bytes of binary data past the inputs' binary_data_size"
            )
        return Decoded(decoded, "", [output.name for output in self.request.outputs], v2_name)


def raw_request_tensor(body: memoryview, specs: Mapping[str, TensorSpec]) -> tuple[str, np.ndarray]:
    """A raw binary request (Inference-Header-Content-Length: 0, Triton's extension_binary_data.md):
    the whole body is the model's one input, in its dtype; its one dimension of any size, if
    it has one, is what the byte count makes."""
    what = f"a raw binary request ({HEADER_LENGTH}: 0)"
    if len(specs) != 1:
        raise InvalidInput(f"{what} needs a model with one input; this one has {sorted(specs)}")
    ((name, spec),) = specs.items()
    if not len(body):
        raise InvalidInput(f"{what}: the body is empty; expected the bytes of input {name!r}")
    variable = [index for index, dim in enumerate(spec.shape or ()) if dim == -1]
    if spec.shape is None or len(variable) > 1 or spec.dtype == STRING:
        raise InvalidInput(
            f"{what}: input {name!r} has shape {spec.shape}; its shape must be known but for one dimension"
        )
    row = math.prod(dim for dim in spec.shape if dim != -1) * spec.dtype.itemsize
    shape = list(spec.shape)
    if variable and row and len(body) % row == 0:
        shape[variable[0]] = len(body) // row
    if math.prod(shape) * spec.dtype.itemsize != len(body) or -1 in shape:
        raise InvalidInput(
            f"{what}: input {name!r} of shape {list(spec.shape)} ({v2_name(spec.dtype)}) cannot be {len(body)} bytes"
        )
    return name, np.frombuffer(body, spec.dtype).reshape(shape)


def _parse_with_float_arrays(header: bytes) -> dict | None:
    """The request document parsed by simdjson, the `data` of each FP16/BF16/FP32/FP64 input
    already a flat float64 array (no Python float per element: a 1x3x224x224 image parses in
    about a tenth of the time); None for anything else this path does not take (not JSON, a
    value that is no number, an integer float64 would round), which the general parse reads or
    refuses in its own words."""
    try:
        document = json_fast.thread_parser(len(header)).parse(header)
        if not isinstance(document, simdjson.Object):
            return None
        # keys and [key], not items(): items() makes Python values of the whole document
        parsed = {key: _plain(document[key]) for key in document if key != "inputs"}
        inputs = document.get("inputs")
        if isinstance(inputs, simdjson.Array):
            parsed["inputs"] = [_input_with_float_array(tensor) for tensor in inputs]
        elif inputs is not None:
            parsed["inputs"] = _plain(inputs)
    except (*json_fast.SIMDJSON_ERRORS, _GeneralPath):
        return None
    return parsed


class _GeneralPath(Exception):
    """A value the simdjson path leaves to the general parse."""


def _input_with_float_array(tensor: object) -> object:
    if not isinstance(tensor, simdjson.Object):
        return _plain(tensor)
    fields = {key: _plain(tensor[key]) for key in tensor if key != "data"}
    data = tensor.get("data")
    if isinstance(data, simdjson.Array) and fields.get("datatype") in _FLOAT_DATATYPES:
        values = np.frombuffer(data.as_buffer(of_type="d"), np.float64)
        if values.size and np.abs(values).max() >= _EXACT_IN_FLOAT64:
            raise _GeneralPath
        fields["data"] = values
    elif "data" in tensor:
        fields["data"] = _plain(data)
    return fields


def _plain(value: object) -> object:
    """A simdjson value as Python values."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _parse(header: bytes, has_binary: bool) -> dict:
    if not header.strip():
        raise InvalidInput("the request body is empty; expected a JSON inference request")
    try:
        document = orjson.loads(header)
    except orjson.JSONDecodeError as exc:
        hint = "" if has_binary else f" (binary tensor data after the JSON needs the {HEADER_LENGTH} header)"
        raise InvalidInput(f"the inference request is not valid JSON: {exc}{hint}") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"the inference request must be a JSON object, got {_kind(document)}")
    return document


def _request_fields(document: dict) -> InferRequest:
    """id, parameters and the requested outputs of a JSON request."""
    request_id = document.get("id", "")
    if not isinstance(request_id, str):
        raise InvalidInput(f"'id' must be a string, got {_kind(request_id)}")
    parameters = _object(document.get("parameters"), "'parameters'")
    outputs = document.get("outputs", [])
    if not isinstance(outputs, list):
        raise InvalidInput(f"'outputs' must be an array, got {_kind(outputs)}")
    requested = []
    for index, output in enumerate(outputs):
        output = _object(output, f"outputs[{index}]")
        name = output.get("name")
        if not isinstance(name, str):
            raise InvalidInput(f"outputs[{index}]: 'name' must be a string, got {_kind(name)}")
        output_parameters = _object(output.get("parameters"), f"outputs[{index}].parameters")
        if "classification" in output_parameters:
            raise Unimplemented(f"output {name!r}: the classification extension is not supported by this server")
        requested.append(RequestedOutput(name, _flag(output_parameters, "binary_data", f"output {name!r}")))
    binary_output = _flag(parameters, "binary_data_output", "request") or False
    return InferRequest(request_id, parameters, requested, binary_output)


def _input(
    tensor: object, index: int, binary: memoryview, offset: int, has_binary: bool, may_hold_bools: bool
) -> tuple[str, np.ndarray, int]:
    """One JSON input -> (name, array, the binary offset after it); has_binary: the request
    gave Inference-Header-Content-Length (else the whole body is JSON); may_hold_bools: the
    JSON may have true/false literals (json_tensors.may_hold_bools)."""
    tensor = _object(tensor, f"inputs[{index}]")
    name = tensor.get("name")
    if not isinstance(name, str):
        raise InvalidInput(f"inputs[{index}]: 'name' must be a string, got {_kind(name)}")
    where = f"input {name!r}"
    for key in ("shape", "datatype"):
        if key not in tensor:
            raise InvalidInput(f"{where}: missing '{key}'")
    parameters = _object(tensor.get("parameters"), f"{where}: 'parameters'")
    size = parameters.get("binary_data_size")
    if size is None:
        if "data" not in tensor:
            raise InvalidInput(f"{where}: expected 'data' or parameters.binary_data_size")
        data = json_tensor(tensor["data"], tensor["datatype"], tensor["shape"], where, may_hold_bools)
        return name, data, offset
    if "data" in tensor:
        raise InvalidInput(f"{where}: give either 'data' or parameters.binary_data_size, not both")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInput(f"{where}: binary_data_size must be a non-negative integer, got {size!r}")
    if not has_binary:
        raise InvalidInput(
            f"{where}: binary_data_size needs the {HEADER_LENGTH} header giving the JSON's length "
            "(without it the whole body is JSON)"
        )
    if offset + size > len(binary):
        raise InvalidInput(
            f"{where}: binary_data_size {size} reaches past the body's end: "
            f"{len(binary) - offset} bytes of binary data remain"
        )
    array = binary_tensor(binary[offset : offset + size], tensor["datatype"], tensor["shape"], where)
    return name, array, offset + size


def _json_data(name: str, array: np.ndarray) -> object:
    """An output's values as a flat JSON array: 16-bit floats written as their float32 values,
    BYTES as strings (UTF-8; other bytes are refused, binary output carries them)."""
    if array.dtype in (np.dtype(np.float16), BFLOAT16):
        array = array.astype(np.float32)
    if array.dtype == STRING:
        try:
            return [value.decode() for value in array.reshape(-1)]
        except UnicodeDecodeError:
            raise InvalidInput(
                f"output {name!r} holds bytes that are not UTF-8 text, which JSON cannot carry; "
                'ask for it as binary (output parameter "binary_data": true)'
            ) from None
    return np.ascontiguousarray(array).reshape(-1)


def raw_bytes(array: np.ndarray) -> bytes:
    """A tensor's binary form: little-endian row-major elements, BYTES length-prefixed."""
    if array.dtype == STRING:
        return b"".join(_LENGTH.pack(len(value)) + value for value in array.reshape(-1))
    return np.ascontiguousarray(array).tobytes()


def encode_response(
    model_name: str, version: int, request: InferRequest, outputs: Mapping[str, np.ndarray]
) -> tuple[bytes, int | None]:
    """The inference response: (body, JSON length) when some output is binary, else (JSON, None).
    Outputs come in the order the request named them, else the model's."""
    binary_flags = {output.name: output.binary for output in request.outputs}
    entries = []
    blobs = []
    for name, array in outputs.items():
        entry: dict[str, Any] = {"name": name, "datatype": v2_name(array.dtype), "shape": list(array.shape)}
        binary = binary_flags.get(name)
        if binary if binary is not None else request.binary_output:
            blob = raw_bytes(array)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = _json_data(name, array)
        entries.append(entry)
    response: dict[str, Any] = {"model_name": model_name, "model_version": str(version)}
    if request.id:
        response["id"] = request.id
    response["outputs"] = entries
    header = orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return header, None
    return b"".join((header, *blobs)), len(header)
