"""KServe v2 / Open Inference Protocol tensors <-> numpy, for both transports: the datatype
names (kserve/open-inference-protocol specification/protocol/inference_rest.md "Tensor Data
Types"), a tensor from its raw bytes (Triton's binary tensor data extension, gRPC
raw_input_contents) or from JSON data, and a tensor's raw bytes. No OpenVINO, Flask or gRPC here.

Raw data is little-endian, row-major; BOOL is one byte per element; a BYTES element is a 4-byte
little-endian length and its bytes. Every size is checked against the shape before an array is
made. The HTTP body around the tensors is v2_http's; the gRPC messages are v2_proto's.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ie_serving.dtypes import NUMPY_BY_V2_NAME, STRING, float_overflow
from ie_serving.errors import InvalidInput

DATATYPES = tuple(NUMPY_BY_V2_NAME)
_LENGTH = struct.Struct("<I")  # a BYTES element's length prefix


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
    if dtype.kind in "fV" and dtype != np.float64:  # V: ml_dtypes' bfloat16
        with np.errstate(over="ignore", invalid="ignore"):
            converted = values.astype(dtype)
        value = float_overflow(values, converted)
        if value is not None:
            raise InvalidInput(
                f"{where}: {value.item()!r} in 'data' is outside {datatype}'s range (it would become infinity)"
            )
        return converted.reshape(shape)
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


def raw_bytes(array: np.ndarray) -> bytes:
    """A tensor's binary form: little-endian row-major elements, BYTES length-prefixed."""
    if array.dtype == STRING:
        return b"".join(_LENGTH.pack(len(value)) + value for value in array.reshape(-1))
    return np.ascontiguousarray(array).tobytes()
