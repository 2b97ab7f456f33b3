"""The element types served, with their names in numpy, OpenVINO, TF Serving and the KServe v2 /
Open Inference Protocol (its "Tensor Data Types" table).

bfloat16 is carried in numpy as ml_dtypes.bfloat16, the same type TensorFlow uses. Strings
(DT_STRING, OpenVINO's `string`, v2's BYTES) are numpy object arrays of `bytes`, one per element:
numpy's own fixed-width bytes type would drop trailing zero bytes.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
STRING = np.dtype(object)

# (numpy dtype, OpenVINO type name, TF DataType name, v2 datatype)
_TABLE = (
    (np.dtype(np.float32), "f32", "DT_FLOAT", "FP32"),
    (np.dtype(np.float64), "f64", "DT_DOUBLE", "FP64"),
    (np.dtype(np.float16), "f16", "DT_HALF", "FP16"),
    (BFLOAT16, "bf16", "DT_BFLOAT16", "BF16"),
    (np.dtype(np.int8), "i8", "DT_INT8", "INT8"),
    (np.dtype(np.int16), "i16", "DT_INT16", "INT16"),
    (np.dtype(np.int32), "i32", "DT_INT32", "INT32"),
    (np.dtype(np.int64), "i64", "DT_INT64", "INT64"),
    (np.dtype(np.uint8), "u8", "DT_UINT8", "UINT8"),
    (np.dtype(np.uint16), "u16", "DT_UINT16", "UINT16"),
    (np.dtype(np.uint32), "u32", "DT_UINT32", "UINT32"),
    (np.dtype(np.uint64), "u64", "DT_UINT64", "UINT64"),
    (np.dtype(np.bool_), "boolean", "DT_BOOL", "BOOL"),
    (STRING, "string", "DT_STRING", "BYTES"),
)

NUMPY_BY_OV = {ov_name: np_dtype for np_dtype, ov_name, _, _ in _TABLE}
TF_NAME_BY_NUMPY = {np_dtype: tf_name for np_dtype, _, tf_name, _ in _TABLE}
NUMPY_BY_TF_NAME = {tf_name: np_dtype for np_dtype, _, tf_name, _ in _TABLE}
SERVED_TF_NAMES = tuple(tf_name for _, _, tf_name, _ in _TABLE)

V2_NAME_BY_NUMPY = {np_dtype: v2_name for np_dtype, _, _, v2_name in _TABLE}
NUMPY_BY_V2_NAME = {v2_name: np_dtype for np_dtype, v2_name in V2_NAME_BY_NUMPY.items()}


def tf_name(dtype: np.dtype) -> str:
    """DT_FLOAT style name of a served numpy dtype."""
    return TF_NAME_BY_NUMPY[np.dtype(dtype)]


def v2_name(dtype: np.dtype) -> str:
    """FP32 style (v2 datatype) name of a served numpy dtype, BYTES for strings."""
    return V2_NAME_BY_NUMPY[np.dtype(dtype)]


def float_overflow(values: np.ndarray, converted: np.ndarray) -> np.generic | None:
    """The first finite value of `values` (a numpy scalar) that became infinite in `converted`,
    its cast to a narrower float dtype (FP16, BF16, FP32); None when none did. The codecs refuse
    such values, as TF Serving's REST API does, rather than serve infinity."""
    infinite = np.isinf(converted.astype(np.float32, copy=False))
    if not infinite.any():
        return None
    overflow = infinite & np.isfinite(values)
    return values[overflow].flat[0] if overflow.any() else None


def can_convert(received: np.dtype, expected: np.dtype) -> bool:
    """True when every value of `received` is exactly representable in `expected`."""
    if received == expected:
        return True
    if received == BFLOAT16:
        return expected in (np.dtype(np.float32), np.dtype(np.float64))
    if expected == BFLOAT16:
        return received in (np.dtype(np.bool_), np.dtype(np.int8), np.dtype(np.uint8))
    return bool(np.can_cast(received, expected, casting="safe"))
