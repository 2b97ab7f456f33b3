"""numpy <-> tensorflow.TensorProto, as TF Serving clients send and expect them.

tensor_content is read and written in the host's byte order, which is little-endian on
every platform OpenVINO's CPU plugin runs on, as the TF wire format expects.

Requests are checked before anything large is allocated: the declared shape must match
the bytes or values that came with it.
"""

from __future__ import annotations

import math

import numpy as np

from ie_serving.dtypes import BFLOAT16, NUMPY_BY_TF_NAME, SERVED_TF_NAMES, TF_NAME_BY_NUMPY
from ie_serving.errors import InvalidInput
from ie_serving.protos.tensorflow.core.framework import tensor_pb2, types_pb2

# Largest tensor that a single repeated value may be broadcast to (TF's make_ndarray fills
# the whole shape from one value); bigger requests must send their values.
MAX_BROADCAST_BYTES = 1 << 30
# The largest array numpy can describe (its sizes are signed 64-bit), zero dimensions aside.
MAX_ARRAY_BYTES = np.iinfo(np.intp).max

_TYPED_FIELD = {
    "DT_FLOAT": "float_val",
    "DT_DOUBLE": "double_val",
    "DT_HALF": "half_val",
    "DT_BFLOAT16": "half_val",
    "DT_INT8": "int_val",
    "DT_INT16": "int_val",
    "DT_INT32": "int_val",
    "DT_UINT8": "int_val",
    "DT_UINT16": "int_val",
    "DT_INT64": "int64_val",
    "DT_UINT32": "uint32_val",
    "DT_UINT64": "uint64_val",
    "DT_BOOL": "bool_val",
}


_NUMPY_BY_ENUM = {types_pb2.DataType.Value(name): dtype for name, dtype in NUMPY_BY_TF_NAME.items()}
_ENUM_BY_NUMPY = {dtype: number for number, dtype in _NUMPY_BY_ENUM.items()}


def tf_dtype_enum(dtype: np.dtype) -> int:
    """The tensorflow.DataType number of a served numpy dtype."""
    return _ENUM_BY_NUMPY[np.dtype(dtype)]


def _shape_of(name: str, proto: tensor_pb2.TensorProto) -> tuple[int, ...]:
    if proto.tensor_shape.unknown_rank:
        raise InvalidInput(f"input {name!r}: tensor_shape has unknown_rank; a full shape is required")
    dims = tuple(d.size for d in proto.tensor_shape.dim)
    if any(d < 0 for d in dims):
        raise InvalidInput(f"input {name!r}: shape {list(dims)} has a negative dimension")
    return dims


def _check_describable(name: str, shape: tuple[int, ...], itemsize: int) -> None:
    """InvalidInput when numpy could not describe the shape even with no data: sizes are
    multiplied as Python integers (no overflow), zero dimensions left out, as numpy checks
    them (dims [0, 3014, 3401, 112473409360] of DT_INT64 hold no value yet fail its reshape)."""
    if math.prod(d for d in shape if d) * itemsize > MAX_ARRAY_BYTES:
        raise InvalidInput(
            f"input {name!r}: shape {list(shape)} is too large: its dimensions multiply past {MAX_ARRAY_BYTES} bytes"
        )


def to_numpy(name: str, proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode one request tensor; raise InvalidInput naming the input and the mismatch."""
    dtype = _NUMPY_BY_ENUM.get(proto.dtype)
    if dtype is None:
        dtype_name = (
            types_pb2.DataType.Name(proto.dtype) if proto.dtype in types_pb2.DataType.values() else str(proto.dtype)
        )
        raise InvalidInput(
            f"input {name!r}: dtype {dtype_name} is not served; served dtypes are {', '.join(SERVED_TF_NAMES)}"
        )
    dtype_name = TF_NAME_BY_NUMPY[dtype]
    shape = _shape_of(name, proto)
    count = math.prod(shape)
    content = proto.tensor_content  # a new bytes object on every access: read it once
    if content:
        expected = count * dtype.itemsize
        if len(content) != expected:
            raise InvalidInput(
                f"input {name!r}: shape {list(shape)} of {dtype_name} needs {expected} bytes of tensor_content, "
                f"got {len(content)}"
            )
        return np.frombuffer(content, dtype=dtype).reshape(shape)
    values = getattr(proto, _TYPED_FIELD[dtype_name])
    if len(values) == count:
        _check_describable(name, shape, dtype.itemsize)
        return _typed_values(values, dtype_name, dtype).reshape(shape)
    if len(values) == 1 and count * dtype.itemsize <= MAX_BROADCAST_BYTES:
        return np.full(shape, _typed_values(values, dtype_name, dtype)[0], dtype=dtype)
    raise InvalidInput(
        f"input {name!r}: shape {list(shape)} needs {count} values, got {len(values)} in "
        f"{_TYPED_FIELD[dtype_name]} and no tensor_content"
    )


def _typed_values(values: object, dtype_name: str, dtype: np.dtype) -> np.ndarray:
    if dtype_name in ("DT_HALF", "DT_BFLOAT16"):
        return np.array(values, dtype=np.int64).astype(np.uint16).view(dtype)
    if dtype_name in ("DT_INT8", "DT_INT16", "DT_UINT8", "DT_UINT16"):
        wide = np.array(values, dtype=np.int64)
        info = np.iinfo(dtype)
        if wide.size and (wide.min() < info.min or wide.max() > info.max):
            raise InvalidInput(f"int_val holds values outside the range of {dtype_name} [{info.min}, {info.max}]")
        return wide.astype(dtype)
    return np.array(values, dtype=dtype)


def to_proto(array: np.ndarray, proto: tensor_pb2.TensorProto | None = None) -> tensor_pb2.TensorProto:
    """Encode an output in tensor_content (little-endian, C order), as TF Serving does; into
    `proto` when given (a field of the response: no copy of the message afterwards)."""
    if proto is None:
        proto = tensor_pb2.TensorProto()
    proto.dtype = _ENUM_BY_NUMPY[array.dtype]
    dims = proto.tensor_shape.dim
    for size in array.shape:
        dims.add().size = size
    if array.dtype == BFLOAT16:
        array = array.view(np.uint16)
    proto.tensor_content = np.ascontiguousarray(array).tobytes()
    return proto
