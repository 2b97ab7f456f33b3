"""TensorProto codec: every served dtype and shape round-trips; TF clients' encodings decode."""

import numpy as np
import ovmsclient
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ie_serving.dtypes import BFLOAT16, STRING, TF_NAME_BY_NUMPY
from ie_serving.errors import InvalidInput
from ie_serving.protos.tensorflow.core.framework import tensor_pb2, types_pb2
from ie_serving.tensor_proto import to_numpy, to_proto
from tests.models import tensor_proto

SERVED = list(TF_NAME_BY_NUMPY)
HYPOTHESIS_DTYPES = [d for d in SERVED if d not in (BFLOAT16, STRING)]


def _arrays():
    return st.sampled_from(HYPOTHESIS_DTYPES).flatmap(
        lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    )


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@settings(max_examples=300, deadline=None)
@given(_arrays())
def test_every_dtype_and_shape_round_trips(array):
    wire = to_proto(array).SerializeToString()
    decoded = to_numpy("x", tensor_pb2.TensorProto.FromString(wire))
    assert _same(decoded, array)


@settings(max_examples=100, deadline=None)
@given(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), st.data())
def test_strings_round_trip_in_string_val(shape, data):
    """DT_STRING travels in string_val, one bytes value per element (zero bytes kept)."""
    values = data.draw(st.lists(st.binary(max_size=8), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    array = np.empty(shape, dtype=STRING)
    array.flat[:] = values
    proto = tensor_pb2.TensorProto.FromString(to_proto(array).SerializeToString())
    assert types_pb2.DataType.Name(proto.dtype) == "DT_STRING" and list(proto.string_val) == values
    decoded = to_numpy("x", proto)
    assert decoded.dtype == STRING and decoded.shape == shape and list(decoded.flat) == values


def test_string_val_count_must_match_the_shape():
    proto = tensor_proto([3], types_pb2.DT_STRING, string_val=[b"a", b"b"])
    with pytest.raises(InvalidInput, match=r"shape \[3\] of DT_STRING needs 3 values in string_val, got 2"):
        to_numpy("x", proto)


def test_bfloat16_round_trips():
    array = np.array([[1.5, -2.0], [0.25, 3.0]], dtype=BFLOAT16)
    proto = to_proto(array)
    assert types_pb2.DataType.Name(proto.dtype) == "DT_BFLOAT16"
    assert _same(to_numpy("x", proto), array)


@settings(max_examples=200, deadline=None)
@given(_arrays().filter(lambda a: a.size > 0))
def test_ovmsclient_encoding_decodes(array):
    """ovmsclient (OVMS's client) fills typed fields or tensor_content; both must decode."""
    client_proto = ovmsclient.make_tensor_proto(array)
    decoded = to_numpy("x", tensor_pb2.TensorProto.FromString(client_proto.SerializeToString()))
    assert decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize(
    ("field", "dtype_name", "values", "dtype"),
    [
        ("float_val", "DT_FLOAT", [1.5, 2.5], np.float32),
        ("double_val", "DT_DOUBLE", [1.5, 2.5], np.float64),
        ("int_val", "DT_INT32", [-3, 7], np.int32),
        ("int_val", "DT_INT8", [-128, 127], np.int8),
        ("int_val", "DT_UINT16", [0, 65535], np.uint16),
        ("int64_val", "DT_INT64", [-(2**40), 2**40], np.int64),
        ("uint32_val", "DT_UINT32", [0, 2**32 - 1], np.uint32),
        ("uint64_val", "DT_UINT64", [0, 2**64 - 1], np.uint64),
        ("bool_val", "DT_BOOL", [True, False], np.bool_),
        ("half_val", "DT_HALF", list(np.array([1.5, -2.0], np.float16).view(np.uint16)), np.float16),
    ],
)
def test_typed_fields_decode(field, dtype_name, values, dtype):
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DataType.Value(dtype_name))
    proto.tensor_shape.dim.add(size=2)
    getattr(proto, field).extend(int(v) if field == "half_val" else v for v in values)
    decoded = to_numpy("x", proto)
    assert decoded.dtype == np.dtype(dtype)
    expected = np.array(values, dtype=np.uint16).view(np.float16) if field == "half_val" else np.array(values, dtype)
    np.testing.assert_array_equal(decoded, expected)


def test_a_single_string_fills_the_shape_only_within_the_broadcast_bound():
    """One string_val fills the shape (TF's make_ndarray), but the filled tensor counts a copy of
    the value per element, as OpenVINO's string tensor holds it: a 1 KiB value cannot become 2 GiB."""
    small = to_numpy("x", tensor_proto([2, 3], types_pb2.DT_STRING, string_val=[b"ab"]))
    assert small.shape == (2, 3) and list(small.flat) == [b"ab"] * 6
    proto = tensor_proto([1 << 21], types_pb2.DT_STRING, string_val=[b"v" * 1024])
    with pytest.raises(InvalidInput, match=r"value of 1024 bytes would take 2164260864 bytes, more than 1073741824"):
        to_numpy("x", proto)


def test_single_value_fills_shape_as_tensorflow_does():
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[2.0])
    proto.tensor_shape.dim.add(size=2)
    proto.tensor_shape.dim.add(size=3)
    np.testing.assert_array_equal(to_numpy("x", proto), np.full((2, 3), 2.0, np.float32))


def _proto(dtype=types_pb2.DT_FLOAT, dims=(2, 2), **fields):
    return tensor_proto(dims, dtype, **fields)


@pytest.mark.parametrize(
    ("proto", "message"),
    [
        (_proto(tensor_content=b"\0" * 12), "shape [2, 2] of DT_FLOAT needs 16 bytes of tensor_content, got 12"),
        (_proto(dims=(2**40, 2**40), tensor_content=b"\0" * 16), "needs 4835703278458516698824704 bytes"),
        (_proto(dims=(2**31, 2**31), float_val=[1.0]), "needs 4611686018427387904 values, got 1"),
        (_proto(float_val=[1.0, 2.0, 3.0]), "shape [2, 2] needs 4 values, got 3 in float_val"),
        (_proto(dims=(-1, 2), float_val=[1.0, 2.0]), "negative dimension"),
        (_proto(dtype=types_pb2.DT_VARIANT, dims=(1,)), "dtype DT_VARIANT is not served"),
        (_proto(dtype=types_pb2.DT_STRING, dims=(2**31, 2**31), string_val=[b"a"]), "needs 4611686018427387904 values"),
        (_proto(dtype=types_pb2.DT_INT8, dims=(1,), int_val=[300]), "outside the range of DT_INT8"),
        (tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape={"unknown_rank": True}), "unknown_rank"),
    ],
)
def test_malformed_tensors_are_refused_before_allocation(proto, message):
    with pytest.raises(InvalidInput) as info:
        to_numpy("x", proto)
    assert message in str(info.value)
    assert "input 'x'" in str(info.value) or "DT_INT8" in str(info.value)


def test_empty_tensor_decodes():
    decoded = to_numpy("x", _proto(dims=(0, 3)))
    assert decoded.shape == (0, 3) and decoded.dtype == np.float32


def test_a_shape_numpy_cannot_describe_is_invalid_input_for_every_dtype():
    """Sizes are multiplied without overflow before any reshape: a DT_INT64 tensor with dims
    [0, 3014, 3401, 112473409360] once answered INTERNAL ("array is too big")."""
    for dtype in (types_pb2.DT_INT64, types_pb2.DT_DOUBLE, types_pb2.DT_UINT64):
        proto = tensor_pb2.TensorProto(dtype=dtype)
        for size in (0, 3014, 3401, 112473409360):
            proto.tensor_shape.dim.add(size=size)
        with pytest.raises(InvalidInput, match=r"shape \[0, 3014, 3401, 112473409360\] is too large"):
            to_numpy("x", proto)


TYPED = [
    (np.array([[1.5, -2.25], [3.0, 1e-30]], np.float32), "float_val"),
    (np.array([1.5, -1e300]), "double_val"),
    (np.array([0, 300, -70000, 2**31 - 1, -(2**31)], np.int32), "int_val"),
    (np.array([1, -1, 127, -128], np.int8), "int_val"),
    (np.array([0, 255], np.uint8), "int_val"),
    (np.array([0, 65535], np.uint16), "int_val"),
    (np.array([-1, 2**62, -(2**63)], np.int64), "int64_val"),
    (np.array([True, False, True]), "bool_val"),
    (np.array([0, 2**32 - 1], np.uint32), "uint32_val"),
    (np.array([0, 2**64 - 1, 5], np.uint64), "uint64_val"),
]


@pytest.mark.parametrize(("array", "field"), TYPED, ids=[a.dtype.name for a, _ in TYPED])
def test_outputs_go_in_the_typed_field_byte_for_byte_as_protobuf_writes_it(array, field):
    """TF Serving writes Predict outputs in the typed value fields by default
    (tensorflow_serving/model_servers/server_core.h, enable_serialization_as_tensor_content);
    the packed bytes written here equal protobuf's own encoding of the same values."""
    ours = to_proto(array)
    reference = tensor_pb2.TensorProto(dtype=ours.dtype, tensor_shape=ours.tensor_shape)
    getattr(reference, field).extend(array.ravel().tolist())
    assert ours.SerializeToString() == reference.SerializeToString()
    assert not ours.tensor_content
    np.testing.assert_array_equal(to_numpy("y", ours), array)


@pytest.mark.parametrize("dtype", [np.float16, BFLOAT16])
def test_half_outputs_carry_their_bits_in_half_val(dtype):
    array = np.array([1.5, -2.0, 0.0], np.float32).astype(dtype)
    proto = to_proto(array)
    assert list(proto.half_val) == array.view(np.uint16).tolist()
    assert to_numpy("y", proto).view(np.uint16).tolist() == array.view(np.uint16).tolist()


def test_tensor_content_when_asked_and_nothing_for_an_empty_output():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    proto = to_proto(array, tensor_content=True)
    assert proto.tensor_content == array.tobytes() and not proto.float_val
    empty = to_proto(np.zeros((0, 3), np.float32))
    assert not empty.float_val and not empty.tensor_content and [d.size for d in empty.tensor_shape.dim] == [0, 3]
