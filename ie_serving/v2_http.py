"""KServe v2 / Open Inference Protocol HTTP bodies <-> numpy: the JSON inference request and
response (kserve/open-inference-protocol specification/protocol/inference_rest.md) and Triton's
binary tensor data extension (triton-inference-server/server docs/protocol/extension_binary_data.md).
No OpenVINO, Flask or gRPC here; the tensors themselves are v2_tensors'.

A request body is a JSON object, optionally followed by binary tensor data; the
`Inference-Header-Content-Length` header gives the JSON's length (0: the body is only the bytes
of the model's one input, a raw binary request). Each input carries its `data` as JSON (flat
or nested, row-major) or `parameters.binary_data_size` bytes of the binary part, inputs taking
their bytes in the order they are listed; every size is checked against the body before an
array is made. Outputs go back as JSON `data`, or as binary when `binary_data` (per output) or
`binary_data_output` (per request) asks for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import simdjson

from ie_serving import json_fast
from ie_serving.dtypes import BFLOAT16, STRING, v2_name
from ie_serving.errors import InvalidInput, Unimplemented
from ie_serving.json_body import kind, member_object, parse_object
from ie_serving.json_tensors import may_hold_bools
from ie_serving.tensor_spec import Decoded, SignatureLookup, TensorSpec
from ie_serving.v2_tensors import (
    InferRequest,
    RequestedOutput,
    binary_tensor,
    json_tensor,
    raw_bytes,
)

HEADER_LENGTH = "Inference-Header-Content-Length"
_FLOAT_DATATYPES = frozenset({"FP16", "BF16", "FP32", "FP64"})


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
    if not (text.isascii() and text.isdigit()):
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
            raise InvalidInput(f"'inputs' must be a non-empty array of input tensors, got {kind(inputs)}")
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
        if values.size and np.abs(values).max() >= json_fast._EXACT_IN_FLOAT64:
            raise _GeneralPath  # integers past it were rounded once by simdjson: the general parse rounds once
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
    hint = "" if has_binary else f" (binary tensor data after the JSON needs the {HEADER_LENGTH} header)"
    return parse_object(header, "the inference request", hint=hint)


def _request_fields(document: dict) -> InferRequest:
    """id, parameters and the requested outputs of a JSON request."""
    request_id = document.get("id", "")
    if not isinstance(request_id, str):
        raise InvalidInput(f"'id' must be a string, got {kind(request_id)}")
    parameters = member_object(document.get("parameters"), "'parameters'")
    outputs = document.get("outputs", [])
    if not isinstance(outputs, list):
        raise InvalidInput(f"'outputs' must be an array, got {kind(outputs)}")
    requested = []
    for index, output in enumerate(outputs):
        output = member_object(output, f"outputs[{index}]")
        name = output.get("name")
        if not isinstance(name, str):
            raise InvalidInput(f"outputs[{index}]: 'name' must be a string, got {kind(name)}")
        output_parameters = member_object(output.get("parameters"), f"outputs[{index}].parameters")
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
    tensor = member_object(tensor, f"inputs[{index}]")
    name = tensor.get("name")
    if not isinstance(name, str):
        raise InvalidInput(f"inputs[{index}]: 'name' must be a string, got {kind(name)}")
    where = f"input {name!r}"
    for key in ("shape", "datatype"):
        if key not in tensor:
            raise InvalidInput(f"{where}: missing '{key}'")
    parameters = member_object(tensor.get("parameters"), f"{where}: 'parameters'")
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
