"""Every request error over gRPC: the status code, a message naming what was expected
and what came, and a server that keeps answering correctly afterwards."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest

from ie_serving.protos.tensorflow.core.framework import types_pb2
from ie_serving.protos.tensorflow_serving.apis import predict_pb2
from ie_serving.tensor_proto import to_proto
from tests import models
from tests.grpc_client import RawClient
from tests.server import ServerProcess


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    models.save(models.scale_model(2.0, [-1, 4]), root / "scale", 1)
    models.save(models.multi_io_model(), root / "multi")
    broken = root / "scale" / "2"
    broken.mkdir()
    (broken / "model.xml").write_text("<net>not an IR</net>")
    (broken / "model.bin").write_bytes(b"\0" * 8)
    entries = [
        {"name": "scale", "base_path": str(root / "scale"), "model_version_policy": {"all": {}}},
        {"name": "multi", "base_path": str(root / "multi")},
    ]
    config = root / "config.json"
    config.write_text(json.dumps({"model_config_list": [{"config": e} for e in entries]}))
    server = ServerProcess(["config", "--config_path", str(config)], tmp_path_factory.mktemp("log") / "server.log")
    server.wait_ready()
    client = RawClient(server.address)
    yield client
    try:
        _, outputs = client.predict("scale", {"x": np.ones((1, 4), np.float32)})
        assert outputs["y"].tolist() == [[2.0] * 4], "server answers wrongly after the error tests"
    finally:
        client.close()
        assert server.stop() == 0


def _error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


X = np.ones((1, 4), np.float32)
MULTI = {"a": np.ones((1, 3), np.float32), "b": np.ones((1, 3), np.float32), "c": np.ones(2, np.int64)}


@pytest.mark.robustness(
    "gRPC Predict naming an unknown model or version, a wrong input name, a missing input, "
    "a wrong dtype or shape, an unknown output or signature",
    "NOT_FOUND / INVALID_ARGUMENT / FAILED_PRECONDITION / UNIMPLEMENTED naming what was expected and what came",
)
@pytest.mark.parametrize(
    ("name", "inputs", "kwargs", "code", "message"),
    [
        ("nope", {"x": X}, {}, grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)"),
        (
            "scale",
            {"x": X},
            {"version": 7},
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Specific(scale, 7)",
        ),
        ("scale", {"z": X}, {}, grpc.StatusCode.INVALID_ARGUMENT, "unknown input(s) ['z']; expected inputs: ['x']"),
        ("multi", {"a": MULTI["a"], "b": MULTI["b"]}, {}, grpc.StatusCode.INVALID_ARGUMENT, "missing input(s) ['c']"),
        (
            "scale",
            {"x": X.astype(np.float64)},
            {},
            grpc.StatusCode.INVALID_ARGUMENT,
            "input 'x' expects dtype DT_FLOAT, got DT_DOUBLE",
        ),
        (
            "scale",
            {"x": np.ones((1, 5), np.float32)},
            {},
            grpc.StatusCode.INVALID_ARGUMENT,
            "input 'x' expects shape [-1, 4] (-1: any size), got [1, 5]",
        ),
        (
            "scale",
            {"x": np.ones(4, np.float32)},
            {},
            grpc.StatusCode.INVALID_ARGUMENT,
            "expects shape [-1, 4] (-1: any size), got [4]",
        ),
        (
            "scale",
            {"x": X},
            {"output_filter": ["nope"]},
            grpc.StatusCode.INVALID_ARGUMENT,
            "unknown output(s) ['nope']",
        ),
        ("scale", {"x": X}, {"signature_name": "other"}, grpc.StatusCode.FAILED_PRECONDITION, 'signature key "other"'),
        (
            "scale",
            {"x": X},
            {"version_label": "stable"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "Unrecognized servable version label: stable",
        ),
    ],
)
def test_predict_errors(raw, name, inputs, kwargs, code, message):
    error = _error(lambda: raw.predict(name, inputs, **kwargs))
    assert error.code() == code
    assert message in error.details()


@pytest.mark.robustness(
    "a model version with broken files",
    "NOT_FOUND for that version, as TF Serving answers, with its load error in status; other versions keep serving",
)
def test_version_that_failed_to_load_is_not_found_with_its_error_in_status(raw):
    """TF Serving's serving map holds ready versions only (core/basic_manager.cc
    GetUntypedServableHandle): a version that failed to load is NOT_FOUND, in its words."""
    error = _error(lambda: raw.predict("scale", {"x": X}, version=2))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "Servable not found for request: Specific(scale, 2)"
    state, code, message = raw.status("scale")[2]
    assert (state, code) == ("END", 2) and message.startswith("cannot read OpenVINO IR model.xml")
    assert raw.status("scale")[1] == ("AVAILABLE", 0, "")


@pytest.mark.robustness(
    "gRPC tensors whose declared shape does not match their content, shapes overflowing 64 bits "
    "or asking for terabytes, negative dimensions, unserved dtypes",
    "INVALID_ARGUMENT before any large allocation",
)
@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (models.tensor_proto([1, 4], tensor_content=b"\0" * 15), "needs 16 bytes of tensor_content, got 15"),
        (models.tensor_proto([1 << 40, 1 << 40], tensor_content=b"\0" * 16), "needs 4835703278458516698824704 bytes"),
        (models.tensor_proto([1 << 20, 1 << 20], float_val=[1.0]), "needs 1099511627776 values, got 1"),
        (models.tensor_proto([1, 4], float_val=[1.0, 2.0]), "needs 4 values, got 2 in float_val"),
        (models.tensor_proto([-1, 4], float_val=[1.0] * 4), "negative dimension"),
        (
            models.tensor_proto([1], dtype=types_pb2.DT_STRING, string_val=[b"x"]),
            "encoded images (JPEG, PNG) are accepted only by numeric inputs of rank 4",
        ),
        (models.tensor_proto([1 << 20, 1 << 20], dtype=types_pb2.DT_STRING, string_val=[b"x"]), "got 1"),
        (
            models.tensor_proto([1 << 21], dtype=types_pb2.DT_STRING, string_val=[b"v" * 1024]),
            "value of 1024 bytes would take 2164260864 bytes",
        ),
        (models.tensor_proto([1], dtype=77), "dtype 77 is not served"),
    ],
)
def test_malformed_tensors(raw, tensor, message):
    error = _error(lambda: raw.predict("scale", {"x": tensor}, version=1))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "input 'x'" in error.details() and message in error.details()


def test_empty_batch_is_answered_with_an_empty_result(raw):
    _, outputs = raw.predict("scale", {"x": np.ones((0, 4), np.float32)}, version=1)
    assert outputs["y"].shape == (0, 4)


def test_metadata_errors(raw):
    error = _error(lambda: raw.metadata("scale", fields=()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "metadata_field" in error.details()
    error = _error(lambda: raw.metadata("scale", fields=("signature_def", "other")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "['other'] not supported" in error.details()
    error = _error(lambda: raw.metadata("nope"))
    assert (
        error.code() == grpc.StatusCode.NOT_FOUND and "Servable not found for request: Latest(nope)" in error.details()
    )


def test_status_errors(raw):
    error = _error(lambda: raw.status("nope"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = _error(lambda: raw.status("scale", 9))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "Specific(scale, 9)" in error.details()


@pytest.mark.robustness(
    "gRPC garbage bytes, truncated protobufs, unserved methods",
    "INVALID_ARGUMENT / UNIMPLEMENTED, server keeps serving",
)
def test_unserved_methods_and_garbage_bytes(raw):
    session_run = raw.channel.unary_unary("/tensorflow.serving.SessionService/SessionRun")
    assert _error(lambda: session_run(b"", timeout=10)).code() == grpc.StatusCode.UNIMPLEMENTED
    classify = raw.channel.unary_unary("/tensorflow.serving.PredictionService/Classify")
    error = _error(lambda: classify(b"", timeout=10))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == "Missing ModelSpec"
    predict_bytes = raw.channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
    error = _error(lambda: predict_bytes(b"\xff\xff\xff\xff garbage", timeout=10))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request is not a valid tensorflow.serving.PredictRequest protobuf" in error.details()
    truncated = raw.predict_request("scale", {"x": X}).SerializeToString()[:-3]
    assert _error(lambda: predict_bytes(truncated, timeout=10)).code() == grpc.StatusCode.INVALID_ARGUMENT


def test_model_spec_errors_use_tf_servings_codes_and_words(raw):
    """TF Serving: an empty name is INVALID_ARGUMENT "ModelSpec has no name specified."
    (model_servers/server_core.cc), no model_spec "Missing ModelSpec" (predict_impl.cc), an
    output named twice "duplicate output tensor alias: NAME" (servables/tensorflow/predict_util.cc)."""
    empty = _error(lambda: raw.predict("", {"x": X}))
    assert (empty.code(), empty.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified.")
    request = predict_pb2.PredictRequest()
    request.inputs["x"].CopyFrom(to_proto(X))
    missing = _error(lambda: raw.predictions.Predict(request, timeout=30))
    assert (missing.code(), missing.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")
    twice = _error(lambda: raw.predict("scale", {"x": X}, output_filter=["y", "y"]))
    assert (twice.code(), twice.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "duplicate output tensor alias: y")
