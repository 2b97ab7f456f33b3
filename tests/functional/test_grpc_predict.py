"""Predict, GetModelMetadata and GetModelStatus over gRPC against a real server, with
ovmsclient and raw stubs; every answer is compared with OpenVINO's direct result."""

from __future__ import annotations

import concurrent.futures
import json

import numpy as np
import ovmsclient
import pytest

from ie_serving.demo import build_demo_model
from ie_serving.dtypes import BFLOAT16
from ie_serving.protos.tensorflow.core.framework import tensor_pb2, types_pb2
from tests import models
from tests.grpc_client import RawClient
from tests.server import ServerProcess

DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64]
DTYPES += [np.uint8, np.uint16, np.uint32, np.uint64, np.bool_]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    paths = {
        "demo": models.save(build_demo_model(), root / "demo"),
        "multi": models.save(models.multi_io_model(), root / "multi"),
        "dynamic": models.save(models.dynamic_model(), root / "dynamic"),
        "scale_v1": models.save(models.scale_model(1.0), root / "scale", 1),
        "scale_v2": models.save(models.scale_model(2.0), root / "scale", 2),
        "static": models.save(models.scale_model(3.0, [1, 4]), root / "static"),
        "bf16": models.save(build_demo_model(), root / "bf16"),
    }
    for dtype in DTYPES:
        paths[np.dtype(dtype).name] = models.save(models.dtype_model(dtype), root / np.dtype(dtype).name)
    mapped = models.save(models.multi_io_model(), root / "mapped")
    (mapped / "mapping_config.json").write_text(
        json.dumps({"inputs": {"a": "left", "b": "right"}, "outputs": {"sum": "total"}})
    )
    paths["mapped"] = mapped
    entries = [{"name": n, "base_path": str(root / n)} for n in ["demo", "multi", "dynamic", "mapped"]]
    entries += [{"name": np.dtype(d).name, "base_path": str(root / np.dtype(d).name)} for d in DTYPES]
    entries += [
        {"name": "scale", "base_path": str(root / "scale"), "model_version_policy": {"all": {}}},
        {"name": "latest", "base_path": str(root / "scale")},
        {"name": "batch3", "base_path": str(root / "scale"), "batch_size": 3},
        {"name": "reshaped", "base_path": str(root / "static"), "shape": "auto"},
        {"name": "fixed", "base_path": str(root / "dynamic"), "shape": {"x": "(2,3)"}},
        {"name": "bf16", "base_path": str(root / "bf16"), "plugin_config": {"INFERENCE_PRECISION_HINT": "bf16"}},
    ]
    config = root / "config.json"
    config.write_text(json.dumps({"model_config_list": [{"config": e} for e in entries]}))
    return root, config, paths


@pytest.fixture(scope="module")
def server(repo, tmp_path_factory):
    _, config, _ = repo
    process = ServerProcess(["config", "--config_path", str(config)], tmp_path_factory.mktemp("log") / "server.log")
    yield process.wait_ready()
    assert process.stop() == 0


@pytest.fixture(scope="module")
def client(server):
    return ovmsclient.make_grpc_client(server.address)


@pytest.fixture(scope="module")
def raw(server):
    raw_client = RawClient(server.address)
    yield raw_client
    raw_client.close()


def test_demo_prediction_equals_openvino(client, repo):
    x = np.random.default_rng(1).random((1, 3, 224, 224), dtype=np.float32)
    answer = client.predict({"input": x}, "demo")
    expected = models.direct_infer(repo[2]["demo"] / "model.xml", {"input": x})["probabilities"]
    assert answer.shape == (1, 10)
    np.testing.assert_allclose(answer, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_every_dtype_through_ovmsclient(client, repo, dtype):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2, (2, 3)).astype(dtype) if dtype == np.bool_ else (rng.random((2, 3)) * 50).astype(dtype)
    answer = client.predict({"x": x}, np.dtype(dtype).name)
    expected = models.direct_infer(repo[2][np.dtype(dtype).name] / "model.xml", {"x": x})["y"]
    assert answer.dtype == expected.dtype
    np.testing.assert_array_equal(answer, expected)


def test_bfloat16_input_is_converted_to_float32_model(raw, repo):
    x = np.array([[1.5, 2.0, -3.0]], dtype=BFLOAT16)
    version, outputs = raw.predict("float32", {"x": x})
    expected = models.direct_infer(repo[2]["float32"] / "model.xml", {"x": x.astype(np.float32)})["y"]
    np.testing.assert_array_equal(outputs["y"], expected)


def test_typed_fields_as_tensorflow_clients_send_them(raw):
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1, 2, 3, 4, 5, 6])
    proto.tensor_shape.dim.add(size=2)
    proto.tensor_shape.dim.add(size=3)
    _, outputs = raw.predict("float32", {"x": proto})
    np.testing.assert_array_equal(outputs["y"], np.arange(2, 8, dtype=np.float32).reshape(2, 3))


def test_multiple_inputs_outputs_and_output_filter(raw, repo):
    rng = np.random.default_rng(3)
    inputs = {"a": rng.random((4, 3), dtype=np.float32), "b": rng.random((4, 3), dtype=np.float32)}
    inputs["c"] = np.array([5, -7], dtype=np.int64)
    expected = models.direct_infer(repo[2]["multi"] / "model.xml", inputs)
    _, everything = raw.predict("multi", inputs)
    assert set(everything) == {"sum", "prod", "c2"}
    for name in everything:
        np.testing.assert_array_equal(everything[name], expected[name])
    _, filtered = raw.predict("multi", inputs, output_filter=["prod"])
    assert set(filtered) == {"prod"}
    np.testing.assert_array_equal(filtered["prod"], expected["prod"])


def test_mapping_config_renames_tensors(raw, client, repo):
    a, b = np.ones((1, 3), np.float32), np.full((1, 3), 2, np.float32)
    c = np.array([1, 2], np.int64)
    _, outputs = raw.predict("mapped", {"left": a, "right": b, "c": c})
    assert set(outputs) == {"total", "prod", "c2"}
    np.testing.assert_array_equal(outputs["total"], a + b)
    metadata = client.get_model_metadata("mapped")
    assert set(metadata["inputs"]) == {"left", "right", "c"}
    assert set(metadata["outputs"]) == {"total", "prod", "c2"}


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (16, 2)])
def test_dynamic_dimensions_serve_any_shape(raw, repo, shape):
    x = np.random.default_rng(4).random(shape, dtype=np.float32)
    _, outputs = raw.predict("dynamic", {"x": x})
    expected = models.direct_infer(repo[2]["dynamic"] / "model.xml", {"x": x})
    np.testing.assert_allclose(outputs["row_sum"], expected["row_sum"], rtol=1e-6)
    np.testing.assert_array_equal(outputs["square"], expected["square"])


def test_versions_policy_all_and_latest(raw, client):
    x = np.ones((1, 4), np.float32)
    assert raw.predict("scale", {"x": x}, version=1)[1]["y"].tolist() == [[1.0] * 4]
    assert raw.predict("scale", {"x": x}, version=2)[1]["y"].tolist() == [[2.0] * 4]
    version, outputs = raw.predict("scale", {"x": x})
    assert version == 2 and outputs["y"].tolist() == [[2.0] * 4]
    assert raw.predict("scale", {"x": x}, version=0)[0] == 2  # OVMS clients send 0 for "latest"
    assert client.get_model_status("scale") == {
        1: {"state": "AVAILABLE", "error_code": 0, "error_message": ""},
        2: {"state": "AVAILABLE", "error_code": 0, "error_message": ""},
    }
    assert raw.status("latest") == {2: ("AVAILABLE", 0, "")}
    assert raw.status("scale", 1) == {1: ("AVAILABLE", 0, "")}


def test_metadata_describes_signature(raw):
    response, signatures = raw.metadata("multi")
    assert response.model_spec.name == "multi" and response.model_spec.version.value == 1
    assert response.metadata["signature_def"].type_url == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    signature = signatures.signature_def["serving_default"]
    assert signature.method_name == "tensorflow/serving/predict"
    a = signature.inputs["a"]
    assert (a.name, types_pb2.DataType.Name(a.dtype), [d.size for d in a.tensor_shape.dim]) == (
        "a",
        "DT_FLOAT",
        [-1, 3],
    )
    assert types_pb2.DataType.Name(signature.inputs["c"].dtype) == "DT_INT64"
    assert set(signature.outputs) == {"sum", "prod", "c2"}


def test_batch_size_and_shape_settings_reshape_the_model(client, raw):
    assert client.get_model_metadata("batch3")["inputs"]["x"]["shape"] == [3, 4]
    assert client.get_model_metadata("reshaped")["inputs"]["x"]["shape"] == [-1, -1]
    assert client.get_model_metadata("fixed")["inputs"]["x"]["shape"] == [2, 3]
    _, outputs = raw.predict("reshaped", {"x": np.ones((5, 2), np.float32)})
    np.testing.assert_array_equal(outputs["y"], np.full((5, 2), 3.0, np.float32))


def test_precision_setting_is_applied(raw, repo):
    """bf16 asked for in plugin_config gives OpenVINO's bf16 answer; the default gives f32's."""
    x = np.random.default_rng(5).random((1, 3, 224, 224), dtype=np.float32)
    xml = repo[2]["bf16"] / "model.xml"
    bf16 = models.direct_infer(
        xml, {"input": x}, {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "bf16"}
    )
    f32 = models.direct_infer(xml, {"input": x})
    assert not np.array_equal(bf16["probabilities"], f32["probabilities"]), "this CPU computes bf16 as f32"
    np.testing.assert_array_equal(raw.predict("bf16", {"input": x})[1]["probabilities"], bf16["probabilities"])
    np.testing.assert_array_equal(raw.predict("demo", {"input": x})[1]["probabilities"], f32["probabilities"])


def test_parallel_requests_all_answer_correctly(raw):
    def one(i: int) -> bool:
        x = np.full((2, 4), float(i), np.float32)
        return raw.predict("scale", {"x": x}, version=2)[1]["y"].tolist() == (x * 2).tolist()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert all(pool.map(one, range(200)))
