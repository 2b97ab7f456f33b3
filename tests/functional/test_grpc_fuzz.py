"""Fuzz the gRPC request decoders of a live server with hypothesis: random bytes, mutated
valid requests and random tensors. Every answer is a proper client error (never INTERNAL or
UNKNOWN), and the server still answers correctly afterwards."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    models.save(models.scale_model(2.0), root / "m")
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


def _call(raw: RawClient, method: str, payload: bytes) -> grpc.StatusCode:
    try:
        raw.channel.unary_unary(method)(payload, timeout=30)
    except grpc.RpcError as exc:
        assert exc.code() in CLIENT_ERRORS, (exc.code(), exc.details())
        return exc.code()
    return grpc.StatusCode.OK


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.robustness(
    "gRPC fuzz: random request bytes on every method (hypothesis)",
    "a client error code for each, never INTERNAL/UNKNOWN; correct answers afterwards",
    cases=150,
)
@FUZZ
@given(method=st.sampled_from(METHODS), payload=st.binary(max_size=512))
def test_random_bytes(raw, method, payload):
    _call(raw, method, payload)


@pytest.mark.robustness(
    "gRPC fuzz: valid Predict requests with flipped bytes and truncation (hypothesis)",
    "a client error code or a correct answer, never INTERNAL/UNKNOWN",
    cases=150,
)
@FUZZ
@given(
    cut=st.integers(min_value=0, max_value=200),
    flips=st.lists(st.tuples(st.integers(0, 199), st.integers(1, 255)), max_size=6),
)
def test_mutated_valid_requests(raw, cut, flips):
    payload = bytearray(raw.predict_request("m", {"x": np.ones((2, 4), np.float32)}).SerializeToString())
    for index, value in flips:
        if index < len(payload):
            payload[index] ^= value
    _call(raw, METHODS[0], bytes(payload[: len(payload) - cut] if cut < len(payload) else payload))


@pytest.mark.robustness(
    "gRPC fuzz: random dtypes, dims up to 2^40, content and NaN values (hypothesis)",
    "a client error code or a correct answer, never INTERNAL/UNKNOWN",
    cases=150,
)
@FUZZ
@given(
    dtype=st.integers(min_value=-3, max_value=40),
    dims=st.lists(st.integers(min_value=-2, max_value=1 << 40), max_size=5),
    content=st.binary(max_size=64),
    floats=st.lists(st.floats(allow_nan=True, width=32), max_size=8),
)
def test_random_tensors(raw, dtype, dims, content, floats):
    tensor = models.tensor_proto(dims, dtype, tensor_content=content, float_val=floats)
    _call(raw, METHODS[0], raw.predict_request("m", {"x": tensor}).SerializeToString())
