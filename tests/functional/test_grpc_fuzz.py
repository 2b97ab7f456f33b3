"""Fuzz the gRPC request decoders of a live server with hypothesis: random bytes, mutated
valid requests and random tensors. Every answer is a proper client error (never INTERNAL or
UNKNOWN); every OK answer is checked against the request the server accepted: Predict's
output against OpenVINO's own result and x * 2 computed here (the test decodes the
TensorProto itself), metadata and status against the served model. The server still answers
correctly afterwards."""

from __future__ import annotations

import math

import grpc
import numpy as np
import openvino as ov
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ie_serving.compile_policy import CPU_DEFAULTS
from ie_serving.protos.tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, predict_pb2
from tests import models
from tests.grpc_client import RawClient
from tests.server import ServerProcess

CLIENT_ERRORS = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNIMPLEMENTED,
}
METHODS = [
    "/tensorflow.serving.PredictionService/Predict",
    "/tensorflow.serving.PredictionService/GetModelMetadata",
    "/tensorflow.serving.ModelService/GetModelStatus",
]


# The model served: x f32 [-1, 4] -> y = x * 2.
FACTOR = np.float32(2.0)
AVAILABLE = 30  # tensorflow.serving.ModelVersionStatus.State
# dtype number -> (numpy dtype of tensor_content, typed field) for the dtypes whose every value
# float32 holds exactly: the only ones a float32 input may take (half and bfloat16 travel as
# 16-bit patterns). Any other dtype sent to x must be refused with INVALID_ARGUMENT.
TO_FLOAT32 = {
    1: (np.float32, "float_val"),
    19: (np.float16, "half_val"),
    14: ("bfloat16", "half_val"),
    6: (np.int8, "int_val"),
    4: (np.uint8, "int_val"),
    5: (np.int16, "int_val"),
    17: (np.uint16, "int_val"),
    10: (np.bool_, "bool_val"),
}


class Refused(Exception):
    """The request is not one the server may answer with OK."""


@pytest.fixture(scope="module")
def model_xml(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return models.save(models.scale_model(float(FACTOR)), root / "m") / "model.xml"


@pytest.fixture(scope="module")
def reference(model_xml):
    """OpenVINO's own result for an input, with the server's default properties, compiled once."""
    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(model_xml)), "CPU", dict(CPU_DEFAULTS))
    request = compiled.create_infer_request()
    return lambda x: np.array(request.infer({"x": x})[compiled.output("y")])


def reference_input(tensor) -> np.ndarray:
    """x as float32, decoded here from the TensorProto by TF's rules (tensor_content, or the
    typed field with one value per element or one value for all); Refused when the server
    must not accept it for x f32 [-1, 4]."""
    if tensor.dtype not in TO_FLOAT32 or tensor.tensor_shape.unknown_rank:
        raise Refused(f"dtype {tensor.dtype}")
    dims = [d.size for d in tensor.tensor_shape.dim]
    if len(dims) != 2 or dims[1] != 4 or dims[0] < 0:
        raise Refused(f"shape {dims}")
    count = math.prod(dims)
    dtype, field = TO_FLOAT32[tensor.dtype]
    bits = dtype in (np.float16, "bfloat16")
    storage = np.dtype(np.uint16 if bits else dtype)
    if tensor.tensor_content:
        if len(tensor.tensor_content) != count * storage.itemsize:
            raise Refused("tensor_content size")
        raw = np.frombuffer(tensor.tensor_content, storage)
    else:
        values = list(getattr(tensor, field))
        if len(values) == 1 and count != 1:
            values = values * count
        if len(values) != count:
            raise Refused("value count")
        if field == "int_val" or bits:
            wide = np.array(values, np.int64)
            info = np.iinfo(storage)
            if wide.size and (wide.min() < info.min or wide.max() > info.max):
                raise Refused("int_val out of range")
            raw = wide.astype(storage)
        else:
            raw = np.array(values, storage)
    if dtype == "bfloat16":
        x = (raw.astype(np.uint32) << 16).view(np.float32)
    elif dtype == np.float16:
        x = raw.view(np.float16).astype(np.float32)
    else:
        x = raw.astype(np.float32)
    return x.reshape(dims)


def check_predict_answer(reference, payload: bytes, answer: bytes) -> None:
    """An OK Predict answer holds y = x * 2 for the x the request carried, as OpenVINO computes it."""
    request = predict_pb2.PredictRequest.FromString(payload)
    response = predict_pb2.PredictResponse.FromString(answer)
    assert request.model_spec.name == "m" and set(request.inputs) == {"x"}, request
    try:
        x = reference_input(request.inputs["x"])
    except Refused as why:
        raise AssertionError(f"OK for a request the server must refuse ({why}): {request}") from None
    assert (response.model_spec.name, response.model_spec.version.value) == ("m", 1), response.model_spec
    assert set(response.outputs) == {"y"}, list(response.outputs)
    y = response.outputs["y"]
    assert y.dtype == 1 and [d.size for d in y.tensor_shape.dim] == list(x.shape), y
    got = np.frombuffer(y.tensor_content, "<f4").reshape(x.shape) if y.tensor_content else np.array(y.float_val, "<f4")
    np.testing.assert_array_equal(got.reshape(x.shape), x * FACTOR)
    if x.size:
        np.testing.assert_array_equal(got.reshape(x.shape), reference(x))


def check_metadata_answer(payload: bytes, answer: bytes) -> None:
    request = get_model_metadata_pb2.GetModelMetadataRequest.FromString(payload)
    response = get_model_metadata_pb2.GetModelMetadataResponse.FromString(answer)
    assert request.model_spec.name == "m" and response.model_spec.name == "m", (request, response.model_spec)
    assert response.model_spec.version.value == 1
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    signature = signatures.signature_def["serving_default"]
    (x,), (y,) = signature.inputs.values(), signature.outputs.values()
    assert (x.name, x.dtype, [d.size for d in x.tensor_shape.dim]) == ("x", 1, [-1, 4])
    assert (y.name, y.dtype, [d.size for d in y.tensor_shape.dim]) == ("y", 1, [-1, 4])


def check_status_answer(payload: bytes, answer: bytes) -> None:
    request = get_model_status_pb2.GetModelStatusRequest.FromString(payload)
    response = get_model_status_pb2.GetModelStatusResponse.FromString(answer)
    assert request.model_spec.name == "m", request
    assert [(s.version, s.state, s.status.error_code) for s in response.model_version_status] == [(1, AVAILABLE, 0)], (
        response
    )


@pytest.fixture(scope="module")
def raw(model_xml):
    root = model_xml.parents[2]
    server = ServerProcess(
        ["model", "--model_name", "m", "--model_path", str(root / "m")],
        root / "server.log",
        {"LOG_LEVEL": "INFO"},
    ).wait_ready()
    client = RawClient(server.address)
    yield client
    _, outputs = client.predict("m", {"x": np.ones((1, 4), np.float32)})
    client.close()
    assert outputs["y"].tolist() == [[2.0] * 4], "wrong answer after fuzzing"
    assert server.stop() == 0, "server did not survive the fuzzing"


def _call(raw: RawClient, reference, method: str, payload: bytes) -> grpc.StatusCode:
    """Send payload as is; a client error code, or OK with the answer checked."""
    try:
        answer = raw.channel.unary_unary(method)(payload, timeout=30)
    except grpc.RpcError as exc:
        assert exc.code() in CLIENT_ERRORS, (exc.code(), exc.details())
        return exc.code()
    if method == METHODS[0]:
        check_predict_answer(reference, payload, answer)
    elif method == METHODS[1]:
        check_metadata_answer(payload, answer)
    else:
        check_status_answer(payload, answer)
    return grpc.StatusCode.OK


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.robustness(
    "gRPC fuzz: random request bytes on every method (hypothesis)",
    "a client error code (OK answers checked), never INTERNAL/UNKNOWN; correct answers afterwards",
)
@FUZZ
@given(method=st.sampled_from(METHODS), payload=st.binary(max_size=512))
def test_random_bytes(raw, reference, robustness_cases, method, payload):
    robustness_cases.count()
    _call(raw, reference, method, payload)


@pytest.mark.robustness(
    "gRPC fuzz: valid Predict requests with flipped bytes and truncation (hypothesis)",
    "a client error code, or OK with OpenVINO's own result for the values sent; never INTERNAL/UNKNOWN",
)
@FUZZ
@given(
    cut=st.integers(min_value=0, max_value=200),
    flips=st.lists(st.tuples(st.integers(0, 199), st.integers(1, 255)), max_size=6),
)
def test_mutated_valid_requests(raw, reference, robustness_cases, cut, flips):
    robustness_cases.count()
    x = np.arange(8, dtype=np.float32).reshape(2, 4) - 2.5
    payload = bytearray(raw.predict_request("m", {"x": x}).SerializeToString())
    for index, value in flips:
        if index < len(payload):
            payload[index] ^= value
    _call(raw, reference, METHODS[0], bytes(payload[: len(payload) - cut] if cut < len(payload) else payload))


@pytest.mark.robustness(
    "gRPC fuzz: random dtypes, dims up to 2^40, content and NaN values (hypothesis)",
    "a client error code, or OK with OpenVINO's own result for the values sent; never INTERNAL/UNKNOWN",
)
@FUZZ
@given(
    dtype=st.integers(min_value=-3, max_value=40),
    dims=st.lists(st.integers(min_value=-2, max_value=1 << 40), max_size=5),
    content=st.binary(max_size=64),
    floats=st.lists(st.floats(allow_nan=True, width=32), max_size=8),
)
# Once failed CI: no value is needed (a zero dimension), yet the other dimensions multiply past
# what numpy can describe; a DT_INT64 tensor can never feed a float32 input anyway.
@example(dtype=9, dims=[0, 3014, 3401, 112473409360], content=b"", floats=[])
# Accepted ones: float_val per element, one float_val for all, DT_HALF in tensor_content.
@example(dtype=1, dims=[2, 4], content=b"", floats=[0.5, -1.0, float("nan"), float("inf"), 3.0, -0.0, 1e30, 7.0])
@example(dtype=1, dims=[3, 4], content=b"", floats=[1.5])
@example(dtype=19, dims=[1, 4], content=np.array([1, -2, 0.5, 65504], np.float16).tobytes(), floats=[])
def test_random_tensors(raw, reference, robustness_cases, dtype, dims, content, floats):
    robustness_cases.count()
    tensor = models.tensor_proto(dims, dtype, tensor_content=content, float_val=floats)
    code = _call(raw, reference, METHODS[0], raw.predict_request("m", {"x": tensor}).SerializeToString())
    if dtype not in TO_FLOAT32:  # float32 cannot hold every value of this dtype (or it is not served)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, dtype, dims)
