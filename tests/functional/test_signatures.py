"""Every signature of a SavedModel, as TF Serving serves them (signature_name picks one, empty
means serving_default; GetModelMetadata lists them all with their method names:
tensorflow_serving/servables/tensorflow/predict_util.cc, get_model_metadata_impl.cc), with the
official client. OpenVINO reads serving_default only: a signature that computes the same (Keras
3's `serve`) is served by it; one that computes something else is listed and refused, saying why."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.framework_envs import run_tf


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    out = tmp_path_factory.mktemp("signatures")
    run_tf("signature_models.py", "make", str(out))
    return out


def _call(server, model: str, signature: str, inputs: dict, tmp_path) -> dict:
    np.savez(tmp_path / "in.npz", **inputs)
    result = run_tf("signature_models.py", "call", server.address, model, signature, str(tmp_path / "in.npz"))
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_keras_serve_and_serving_default_both_answer_as_tensorflow(saved_models, start_server, tmp_path):
    server = start_server("--model_name", "keras", "--model_base_path", str(saved_models / "keras"))
    with np.load(saved_models / "expected.npz") as expected:
        x, want_serve, want_default = expected["x"], expected["keras_serve"], expected["keras_default"]
    for signature, want in (("serve", want_serve), ("serving_default", want_default), ("", want_default)):
        answer = _call(server, "keras", signature, {"x": x}, tmp_path)
        assert "error" not in answer, answer
        np.testing.assert_allclose(np.array(answer["outputs"]["output_0"], np.float32), want, rtol=1e-5, atol=1e-6)
        assert answer["signature_name"] == (signature or "serving_default")
    assert answer["metadata"] == {
        "serve": ["tensorflow/serving/predict", ["x"], ["output_0"]],
        "serving_default": ["tensorflow/serving/predict", ["x"], ["output_0"]],
    }


def test_a_signature_computing_something_else_is_listed_and_refused(saved_models, start_server, tmp_path):
    server = start_server("--model_name", "two", "--model_base_path", str(saved_models / "two"))
    x = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    default = _call(server, "two", "serving_default", {"x": x}, tmp_path)
    assert default["outputs"] == {"y": (x * 2).tolist()}
    assert default["metadata"] == {
        "serving_default": ["tensorflow/serving/predict", ["x"], ["y"]],
        "triple": ["tensorflow/serving/predict", ["a"], ["z"]],
    }
    triple = _call(server, "two", "triple", {"a": x}, tmp_path)
    code, details = triple["error"]
    assert code == "FAILED_PRECONDITION"
    assert details.startswith('Serving signature key "triple" is not served: OpenVINO reads')
    unknown = _call(server, "two", "nope", {"x": x}, tmp_path)
    assert unknown["error"] == [
        "FAILED_PRECONDITION",
        'Serving signature key "nope" not found; the signatures served are "serving_default"',
    ]
