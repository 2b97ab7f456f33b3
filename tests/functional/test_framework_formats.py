"""SavedModel, TFLite and ONNX versions served directly (no conversion step): Keras
MobileNetV2 and a Keras text model exported with model.export(), a TFLite model from
TensorFlow's converter, and the Silero VAD ONNX file. Answers through the official TF
Serving client (by the signature's keys) and REST equal the original framework's own."""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
import pytest
import requests

from tests import models
from tests.framework_envs import run_paddle, run_tf
from tests.grpc_client import RawClient
from tests.rest_helpers import RestServer, write_config

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Models and TensorFlow's answers, made in the TensorFlow environment."""
    root = tmp_path_factory.mktemp("tf_models")
    run_tf("make_tf_models.py", str(root))
    (root / "dense_tflite" / "1" / "mapping_config.json").write_text(
        json.dumps(
            {
                "inputs": {"serving_default_features:0": "features"},
                "outputs": {"StatefulPartitionedCall_1:0": "output_0"},
            }
        )
    )
    (root / "vad" / "1").mkdir(parents=True)
    shutil.copy(models.silero_vad_onnx(), root / "vad" / "1" / "silero_vad.onnx")
    return root


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    names = ["mobilenet", "text", "dense_tflite", "vad"]
    entries = [{"name": n, "base_path": str(exported / n), "plugin_config": F32} for n in names]
    config = write_config(exported / "config.json", entries)
    process = RestServer(["config", "--config_path", str(config)], tmp_path_factory.mktemp("log") / "server.log")
    yield process.wait_ready()
    assert process.stop() == 0


def _tf_answers(exported: pathlib.Path, name: str) -> tuple[dict, dict]:
    with np.load(exported / f"{name}.npz") as data:
        inputs = {k[3:]: data[k] for k in data.files if k.startswith("in_")}
        outputs = {k[4:]: data[k] for k in data.files if k.startswith("out_")}
    return inputs, outputs


@pytest.mark.parametrize("name", ["mobilenet", "text", "dense_tflite"])
def test_official_client_by_signature_keys(exported, server, tmp_path, name):
    inputs, expected = _tf_answers(exported, name)
    np.savez(tmp_path / "in.npz", **inputs)
    result = run_tf("tf_serving_client.py", server.address, name, str(tmp_path / "in.npz"), str(tmp_path / "out.npz"))
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(answer["inputs"]) == sorted(inputs) and answer["outputs"] == sorted(expected)
    with np.load(tmp_path / "out.npz") as outputs:
        for key, value in expected.items():
            np.testing.assert_allclose(outputs[key], value, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["mobilenet", "text"])
def test_rest_by_signature_keys(exported, server, name):
    inputs, expected = _tf_answers(exported, name)
    body = {"inputs": {k: v.tolist() for k, v in inputs.items()}}
    answer = requests.post(f"{server.url}/v1/models/{name}:predict", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    (key,) = expected
    np.testing.assert_allclose(np.array(answer.json()["outputs"]), expected[key], rtol=1e-4, atol=1e-5)


def test_onnx_file_served_directly(exported, server):
    inputs = {
        "input": np.random.default_rng(3).standard_normal((1, 512)).astype(np.float32),
        "state": np.zeros((2, 1, 128), np.float32),
        "sr": np.array(16000, dtype=np.int64),
    }
    client = RawClient(server.address)
    try:
        _, outputs = client.predict("vad", inputs)
    finally:
        client.close()
    expected = models.direct_infer(exported / "vad" / "1" / "silero_vad.onnx", inputs)
    np.testing.assert_array_equal(outputs["output"], expected["output"])


def test_tensorflow_model_server_flags_and_text_config(exported, tmp_path, start_server):
    """Two SavedModels from a TF Serving text-protobuf config, started with TF Serving's flags."""
    shutil.copytree(exported / "text" / "1", tmp_path / "text" / "1")
    shutil.copytree(exported / "text" / "1", tmp_path / "text" / "2")
    config = tmp_path / "models.config"
    config.write_text(
        f"""model_config_list {{
  config {{
    name: 'text'
    base_path: '{tmp_path / "text"}'
    model_platform: 'tensorflow'
    model_version_policy {{ specific {{ versions: 1 }} }}
  }}
  config {{
    name: "dense"
    base_path: "{exported / "dense"}"
    model_platform: "tensorflow"
  }}
}}
"""
    )
    server = start_server("--model_config_file", str(config), "--file_system_poll_wait_seconds=0")
    client = RawClient(server.address)
    try:
        assert client.status("text") == {1: ("AVAILABLE", 0, "")}
        inputs, expected = _tf_answers(exported, "dense")
        _, outputs = client.predict("dense", inputs)
        np.testing.assert_allclose(outputs["output_0"], expected["output_0"], rtol=1e-5, atol=1e-6)
    finally:
        client.close()


def test_paddle_model_served_directly(tmp_path, start_server):
    run_paddle("make_paddle_model.py", str(tmp_path / "paddle"))
    server = start_server("model", "--model_name", "paddle", "--model_path", str(tmp_path / "paddle"))
    with np.load(tmp_path / "paddle" / "answer.npz") as answer:
        x, expected = answer["x"], answer["y"]
    client = RawClient(server.address)
    try:
        _, signatures = client.metadata("paddle")
        (output,) = signatures.signature_def["serving_default"].outputs
        _, outputs = client.predict("paddle", {"x": x})
    finally:
        client.close()
    np.testing.assert_allclose(outputs[output], expected, rtol=1e-5, atol=1e-6)
