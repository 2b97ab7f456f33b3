"""REST predict, metadata and status against a real server, with `requests` and with
ovmsclient's HTTP client: every answer equals OpenVINO's direct result and the gRPC answer
for the same request, in the row and the column format."""

from __future__ import annotations

import concurrent.futures
import json

import numpy as np
import ovmsclient
import pytest
import requests

from ie_serving.demo import build_demo_model
from tests import models
from tests.rest_helpers import RestServer, write_config

DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int32, np.int64, np.uint8, np.uint64, np.bool_]


def _name(dtype) -> str:
    return np.dtype(dtype).name


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    paths = {
        "demo": models.save(build_demo_model(), root / "demo"),
        "multi": models.save(models.multi_io_model(), root / "multi"),
        "dynamic": models.save(models.dynamic_model(), root / "dynamic"),
        "scale_v1": models.save(models.scale_model(1.0), root / "scale", 1),
        "scale_v2": models.save(models.scale_model(2.0), root / "scale", 2),
    }
    for dtype in DTYPES:
        paths[_name(dtype)] = models.save(models.dtype_model(dtype), root / _name(dtype))
    entries = [{"name": n, "base_path": str(root / n)} for n in ["demo", "multi", "dynamic"]]
    entries += [{"name": _name(d), "base_path": str(root / _name(d))} for d in DTYPES]
    entries += [
        {"name": "scale", "base_path": str(root / "scale"), "model_version_policy": {"all": {}}},
        {"name": "batched", "base_path": str(root / "multi"), "shape": {"c": "(-1,2)"}},
    ]
    return paths, write_config(root / "config.json", entries)


@pytest.fixture(scope="module")
def server(repo, tmp_path_factory):
    process = RestServer(["config", "--config_path", str(repo[1])], tmp_path_factory.mktemp("log") / "server.log")
    yield process.wait_ready()
    assert process.stop() == 0


@pytest.fixture(scope="module")
def grpc_client(server):
    return ovmsclient.make_grpc_client(server.address)


@pytest.fixture(scope="module")
def http_client(server):
    return ovmsclient.make_http_client(f"127.0.0.1:{server.rest_port}")


def _post(server: RestServer, path: str, body: object) -> requests.Response:
    return requests.post(f"{server.url}/v1/models/{path}", data=json.dumps(body), timeout=30)


def _sample(dtype, shape, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    return (rng.random(shape) * 50).astype(dtype)


def test_demo_row_format_equals_openvino_and_grpc(server, repo, grpc_client):
    x = np.random.default_rng(1).random((2, 3, 224, 224), dtype=np.float32)
    response = _post(server, "demo:predict", {"instances": x.tolist()})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    predictions = np.array(response.json()["predictions"], dtype=np.float32)
    expected = models.direct_infer(repo[0]["demo"] / "model.xml", {"input": x})["probabilities"]
    np.testing.assert_allclose(predictions, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(predictions, grpc_client.predict({"input": x}, "demo"))


@pytest.mark.parametrize("form", ["row", "column"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_every_dtype_in_both_formats(server, repo, grpc_client, dtype, form):
    x = _sample(dtype, (2, 3), seed=2)
    body = {"instances": x.tolist()} if form == "row" else {"inputs": x.tolist()}
    response = _post(server, f"{_name(dtype)}:predict", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"predictions" if form == "row" else "outputs"}
    values = np.array(next(iter(answer.values()))).astype(dtype)
    expected = models.direct_infer(repo[0][_name(dtype)] / "model.xml", {"x": x})["y"]
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_array_equal(values, grpc_client.predict({"x": x}, _name(dtype)))


def test_named_inputs_in_column_format_answer_every_output(server, repo, grpc_client):
    rng = np.random.default_rng(3)
    inputs = {"a": rng.random((4, 3), dtype=np.float32), "b": rng.random((4, 3), dtype=np.float32)}
    inputs["c"] = np.array([5, -7], dtype=np.int64)
    response = _post(server, "multi:predict", {"inputs": {k: v.tolist() for k, v in inputs.items()}})
    assert response.status_code == 200, response.text
    outputs = response.json()["outputs"]
    assert set(outputs) == {"sum", "prod", "c2"}
    expected = models.direct_infer(repo[0]["multi"] / "model.xml", inputs)
    by_grpc = grpc_client.predict(inputs, "multi")
    for name, value in outputs.items():
        array = np.array(value).astype(expected[name].dtype)
        np.testing.assert_array_equal(array, expected[name])
        np.testing.assert_array_equal(array, by_grpc[name])


def test_named_inputs_in_row_format_answer_objects_per_instance(server, repo, grpc_client):
    rng = np.random.default_rng(4)
    inputs = {
        "a": rng.random((3, 3), dtype=np.float32),
        "b": rng.random((3, 3), dtype=np.float32),
        "c": rng.integers(-9, 9, (3, 2)),
    }
    instances = [{name: array[i].tolist() for name, array in inputs.items()} for i in range(3)]
    response = _post(server, "batched:predict", {"instances": instances, "signature_name": "serving_default"})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 3 and all(set(p) == {"sum", "prod", "c2"} for p in predictions)
    by_grpc = grpc_client.predict(inputs, "batched")
    for name in ("sum", "prod", "c2"):
        rows = np.array([p[name] for p in predictions]).astype(by_grpc[name].dtype)
        np.testing.assert_array_equal(rows, by_grpc[name])
    np.testing.assert_array_equal(np.array([p["c2"] for p in predictions]), inputs["c"] * 2)


def test_single_input_named_in_row_and_column_format(server):
    x = [[1.0, 2.0, 3.0, 4.0]]
    row = _post(server, "scale:predict", {"instances": [{"x": x[0]}]})
    column = _post(server, "scale:predict", {"inputs": {"x": x}})
    assert row.json() == {"predictions": [[2.0, 4.0, 6.0, 8.0]]}
    assert column.json() == {"outputs": [[2.0, 4.0, 6.0, 8.0]]}


def test_several_outputs_with_dynamic_shapes(server, repo):
    x = np.random.default_rng(5).random((3, 5), dtype=np.float32)
    expected = models.direct_infer(repo[0]["dynamic"] / "model.xml", {"x": x})
    row = _post(server, "dynamic:predict", {"instances": x.tolist()}).json()["predictions"]
    assert [set(item) for item in row] == [{"row_sum", "square"}] * 3
    np.testing.assert_array_equal(np.array([r["row_sum"] for r in row], np.float32), expected["row_sum"])
    np.testing.assert_array_equal(np.array([r["square"] for r in row], np.float32), expected["square"])
    column = _post(server, "dynamic:predict", {"inputs": x.tolist()}).json()["outputs"]
    np.testing.assert_array_equal(np.array(column["square"], np.float32), expected["square"])


def test_json_numbers_convert_to_the_input_dtype(server):
    """Integers into a float input, integral floats into an integer input."""
    as_float = _post(server, "float32:predict", {"inputs": [[1, 2, 3]]})
    assert as_float.json() == {"outputs": [[2.0, 3.0, 4.0]]}
    as_int = _post(server, "int32:predict", {"inputs": [[1.0, -2.0, 3e3]]})
    assert as_int.json() == {"outputs": [[2, -1, 3001]]}
    as_bool = _post(server, "bool:predict", {"instances": [[True, False, True]]})
    assert as_bool.json() == {"predictions": [[False, True, False]]}


def test_nan_and_infinity_in_and_out_as_tf_serving_writes_them(server):
    response = requests.post(
        f"{server.url}/v1/models/float32:predict", data=b'{"inputs": [[NaN, Infinity, -Infinity]]}', timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.text.replace(" ", "") == '{"outputs":[[NaN,Infinity,-Infinity]]}'


def test_versions_and_latest(server):
    x = {"inputs": [[1, 1, 1, 1]]}
    assert _post(server, "scale/versions/1:predict", x).json() == {"outputs": [[1.0] * 4]}
    assert _post(server, "scale/versions/2:predict", x).json() == {"outputs": [[2.0] * 4]}
    assert _post(server, "scale:predict", x).json() == {"outputs": [[2.0] * 4]}
    assert _post(server, "scale/versions/0:predict", x).json() == {"outputs": [[2.0] * 4]}  # 0: the latest
    assert _post(server, "SCALE:predict", x).status_code == 404  # the name is case-sensitive
    assert requests.post(f"{server.url}/V1/MODELS/scale:PREDICT", json=x, timeout=10).status_code == 200


def test_status_in_tf_serving_form(server):
    ok = {"error_code": "OK", "error_message": ""}
    everything = requests.get(f"{server.url}/v1/models/scale", timeout=10)
    assert everything.status_code == 200
    assert everything.json() == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": ok},
            {"version": "2", "state": "AVAILABLE", "status": ok},
        ]
    }
    one = requests.get(f"{server.url}/v1/models/scale/versions/1", timeout=10).json()
    assert one == {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": ok}]}


def test_metadata_in_tf_serving_form(server):
    response = requests.get(f"{server.url}/v1/models/multi/metadata", timeout=10)
    assert response.status_code == 200

    def info(name: str, dtype: str, dims: list[int]) -> dict:
        shape = {"dim": [{"size": str(d), "name": ""} for d in dims], "unknown_rank": False}
        return {"dtype": dtype, "tensor_shape": shape, "name": name}

    assert response.json() == {
        "model_spec": {"name": "multi", "signature_name": "", "version": "1"},
        "metadata": {
            "signature_def": {
                "signature_def": {
                    "serving_default": {
                        "inputs": {
                            "a": info("a", "DT_FLOAT", [-1, 3]),
                            "b": info("b", "DT_FLOAT", [-1, 3]),
                            "c": info("c", "DT_INT64", [2]),
                        },
                        "outputs": {
                            "sum": info("sum", "DT_FLOAT", [-1, 3]),
                            "prod": info("prod", "DT_FLOAT", [-1, 3]),
                            "c2": info("c2", "DT_INT64", [2]),
                        },
                        "method_name": "tensorflow/serving/predict",
                    }
                }
            }
        },
    }
    versioned = requests.get(f"{server.url}/v1/models/scale/versions/1/metadata", timeout=10).json()
    assert versioned["model_spec"]["version"] == "1"


def test_ovmsclient_http_client(server, repo, http_client, grpc_client):
    rng = np.random.default_rng(6)
    inputs = {"a": rng.random((2, 3), dtype=np.float32), "b": rng.random((2, 3), dtype=np.float32)}
    inputs["c"] = np.array([3, 4], dtype=np.int64)
    outputs = http_client.predict(inputs, "multi")
    by_grpc = grpc_client.predict(inputs, "multi")
    for name in ("sum", "prod", "c2"):
        np.testing.assert_array_equal(outputs[name].astype(by_grpc[name].dtype), by_grpc[name])
    x = _sample(np.int64, (2, 3), seed=7)
    expected = models.direct_infer(repo[0]["int64"] / "model.xml", {"x": x})["y"]
    np.testing.assert_array_equal(http_client.predict({"x": x}, "int64"), expected)
    assert http_client.get_model_status("scale") == {
        1: {"state": "AVAILABLE", "error_code": 0, "error_message": ""},
        2: {"state": "AVAILABLE", "error_code": 0, "error_message": ""},
    }
    # ovmsclient reads OVMS's camelCase metadata; TF Serving's snake_case form comes back as parsed JSON
    metadata = http_client.get_model_metadata("scale", 1)
    assert metadata == requests.get(f"{server.url}/v1/models/scale/versions/1/metadata", timeout=10).json()


def test_parallel_requests_all_answer_correctly(server):
    def one(i: int) -> bool:
        response = _post(server, "scale/versions/1:predict", {"instances": [[float(i)] * 4] * 2})
        return response.json() == {"predictions": [[float(i)] * 4] * 2}

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one, range(64)))


def test_each_request_logs_a_debug_line_with_its_time(server):
    _post(server, "scale:predict", {"inputs": [[1, 2, 3, 4]]})
    _post(server, "scale:predict", {"inputs": [[1, 2, 3]]})
    log = server.log()
    assert "rest Predict model=scale version=latest status=OK time=" in log
    assert "rest Predict model=scale version=latest status=INVALID_ARGUMENT time=" in log
    assert "rest GetModelStatus model=scale version=1 status=OK time=" in log


def test_integers_sent_to_a_float_input_round_as_tf_serving_documents(server, repo):
    """TF Serving's REST API documentation (g3doc/api_rest.md, "JSON mapping"): the integer
    1435774380 sent to a float input becomes 1435774336.0."""
    answer = _post(server, "scale:predict", {"inputs": [[1435774380, 16777217, 3, 4]]})
    assert answer.status_code == 200, answer.text
    expected = models.direct_infer(
        repo[0]["scale_v2"] / "model.xml",
        {
            "x": np.array(
                [
                    [1435774336.0, 16777216.0, 3, 4],
                ],
                np.float32,
            )
        },
    )
    got = np.array(answer.json()["outputs"], np.float32)  # float32 written with its shortest digits
    np.testing.assert_array_equal(got, expected["y"])
