"""KServe v2 / Open Inference Protocol against a real server with Triton's own Python client
(tritonclient[http,grpc] in .venv-triton, tests/tritonclient/v2_calls.py): health, metadata
and inference over HTTP with binary tensors (the client's default), HTTP JSON
(binary_data=False) and gRPC, every answer equal to OpenVINO's direct result; then the
errors, with the server still serving after them.

The contract: kserve/open-inference-protocol specification/protocol/inference_rest.md and
inference_grpc.md, Triton's docs/protocol/extension_binary_data.md, and the status codes of
Triton's http_server.cc (HttpCodeFromError: INVALID_ARG 400, NOT_FOUND 404, UNAVAILABLE 503,
INTERNAL 500) and KServe's errors.py (not ready: 503).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import requests

from tests import models
from tests.framework_envs import run_triton
from tests.rest_helpers import RestServer, assert_error, write_config
from tests.sagemaker_helpers import ServeProcess

TRANSPORTS = ["http-binary", "http-json", "grpc"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    paths = {
        "multi": models.save(models.multi_io_model(), root / "multi"),
        "dynamic": models.save(models.dynamic_model(), root / "dynamic"),
        "scale_v1": models.save(models.scale_model(2.0), root / "scale", 1),
        "scale_v2": models.save(models.scale_model(3.0), root / "scale", 2),
        "half": models.save(models.dtype_model(np.float16), root / "half"),
        "flags": models.save(models.dtype_model(np.bool_), root / "flags"),
        "small": models.save(models.dtype_model(np.int8), root / "small"),
    }
    entries = [{"name": n, "base_path": str(root / n)} for n in ["multi", "dynamic", "half", "flags", "small"]]
    entries.append({"name": "scale", "base_path": str(root / "scale"), "model_version_policy": {"all": {}}})
    return paths, write_config(root / "config.json", entries)


@pytest.fixture(scope="module")
def server(repo, tmp_path_factory):
    process = RestServer(["config", "--config_path", str(repo[1])], tmp_path_factory.mktemp("log") / "server.log")
    yield process.wait_ready()
    assert process.stop() == 0


class Triton:
    """Batches of calls made by tritonclient in its own environment."""

    def __init__(self, server: RestServer, work: pathlib.Path):
        self.urls = {"http": f"127.0.0.1:{server.rest_port}", "grpc": server.address}
        self.work = work
        self.count = 0

    def array(self, array: np.ndarray) -> str:
        self.count += 1
        path = self.work / f"in{self.count}.npy"
        np.save(path, array)
        return str(path)

    def call(self, transport: str, op: str, **fields) -> dict:
        return self.calls([(transport, op, fields)])[0]

    def calls(self, calls: list[tuple[str, str, dict]]) -> list[dict]:
        """Run (transport, op, fields) calls in one client process; transport is one of
        TRANSPORTS (http alone means http-binary)."""
        specs = []
        for transport, op, fields in calls:
            protocol = transport.split("-")[0]
            spec = {"protocol": protocol, "url": self.urls[protocol], "op": op, **fields}
            for tensor in spec.get("inputs", []):
                if "array" in tensor:
                    tensor["npy"] = self.array(tensor.pop("array"))
                tensor.setdefault("binary", transport != "http-json")
            if transport == "http-json" and spec.get("outputs") is None and op == "infer":
                spec["outputs"] = [{"name": name, "binary": False} for name in fields["all_outputs"]]
            specs.append(spec)
        self.count += 1
        calls_path, results_path = self.work / f"calls{self.count}.json", self.work / f"results{self.count}.json"
        calls_path.write_text(json.dumps(specs))
        run_triton("v2_calls.py", str(calls_path), str(results_path))
        results = json.loads(results_path.read_text())
        for result in results:
            result["arrays"] = {name: np.load(path) for name, path in result.get("outputs", {}).items()}
        return results


@pytest.fixture
def triton(server, tmp_path):
    return Triton(server, tmp_path)


def _tensor(name: str, datatype: str, array: np.ndarray) -> dict:
    return {"name": name, "datatype": datatype, "array": array}


MULTI_OUTPUTS = ["sum", "prod", "c2"]


def test_health_and_server_metadata(triton):
    """Live, ready, model ready (by version too) and server metadata over HTTP and gRPC."""
    for transport in ("http", "grpc"):
        live, ready, model, version, missing, metadata = triton.calls(
            [
                (transport, "live", {}),
                (transport, "ready", {}),
                (transport, "model_ready", {"model": "scale"}),
                (transport, "model_ready", {"model": "scale", "version": "1"}),
                (transport, "model_ready", {"model": "scale", "version": "7"}),
                (transport, "server_metadata", {}),
            ]
        )
        assert live["value"] is True and ready["value"] is True
        assert model["value"] is True and version["value"] is True
        if transport == "http":  # tritonclient reads any non-200 as not ready
            assert missing == {"ok": True, "value": False, "arrays": {}}
        else:  # gRPC: a version the server does not know is NOT_FOUND
            assert missing["ok"] is False and missing["status"] == "StatusCode.NOT_FOUND", missing
        assert metadata["value"]["name"] == "ie_serving"
        assert metadata["value"]["extensions"] == ["binary_tensor_data"]


def test_model_metadata_lists_datatypes_dynamic_dims_and_versions(triton):
    http, grpc_answer, scale, scale_v1 = triton.calls(
        [
            ("http", "model_metadata", {"model": "multi"}),
            ("grpc", "model_metadata", {"model": "multi"}),
            ("http", "model_metadata", {"model": "scale"}),
            ("grpc", "model_metadata", {"model": "scale", "version": "1"}),
        ]
    )
    assert http["value"] == {
        "name": "multi",
        "versions": ["1"],
        "platform": "OpenVINO",
        "inputs": [
            {"name": "a", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "b", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "c", "datatype": "INT64", "shape": [2]},
        ],
        "outputs": [
            {"name": "sum", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "prod", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "c2", "datatype": "INT64", "shape": [2]},
        ],
    }
    # gRPC's JSON form writes int64 as strings
    grpc_inputs = [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in grpc_answer["value"]["inputs"]]
    assert grpc_inputs == [(t["name"], t["datatype"], t["shape"]) for t in http["value"]["inputs"]]
    assert scale["value"]["versions"] == ["1", "2"] and scale_v1["value"]["versions"] == ["1", "2"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_multi_input_mixed_dtypes_match_openvino(triton, repo, transport):
    """Two FP32 inputs and an INT64 one; every output equals OpenVINO's own; the id is echoed."""
    rng = np.random.default_rng(3)
    feed = {
        "a": rng.standard_normal((4, 3)).astype(np.float32),
        "b": rng.standard_normal((4, 3)).astype(np.float32),
        "c": np.array([7, -9], np.int64),
    }
    inputs = [_tensor("a", "FP32", feed["a"]), _tensor("b", "FP32", feed["b"]), _tensor("c", "INT64", feed["c"])]
    result = triton.call(transport, "infer", model="multi", inputs=inputs, id="req-42", all_outputs=MULTI_OUTPUTS)
    assert result["ok"], result
    assert result["value"]["id"] == "req-42" and result["value"]["model_name"] == "multi"
    expected = models.direct_infer(repo[0]["multi"] / "model.xml", feed)
    assert sorted(result["arrays"]) == sorted(MULTI_OUTPUTS)
    for name in MULTI_OUTPUTS:
        assert result["arrays"][name].dtype == expected[name].dtype
        np.testing.assert_array_equal(result["arrays"][name], expected[name])


def test_output_selection_mixed_binary_and_explicit_versions(triton):
    a, b, c = np.ones((1, 3), np.float32), np.full((1, 3), 2, np.float32), np.array([1, 2], np.int64)
    inputs = [_tensor("a", "FP32", a), _tensor("b", "FP32", b), _tensor("c", "INT64", c)]
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    selected, mixed, grpc_selected, v1, v2, latest = triton.calls(
        [
            ("http", "infer", {"model": "multi", "inputs": inputs, "outputs": [{"name": "c2"}]}),
            (
                "http",
                "infer",
                {"model": "multi", "inputs": inputs, "outputs": [{"name": "prod", "binary": False}, {"name": "sum"}]},
            ),
            ("grpc", "infer", {"model": "multi", "inputs": inputs, "outputs": [{"name": "sum"}]}),
            ("http", "infer", {"model": "scale", "version": "1", "inputs": [_tensor("x", "FP32", x)]}),
            ("grpc", "infer", {"model": "scale", "version": "2", "inputs": [_tensor("x", "FP32", x)]}),
            ("http", "infer", {"model": "scale", "inputs": [_tensor("x", "FP32", x)]}),
        ]
    )
    assert [o["name"] for o in selected["value"]["outputs"]] == ["c2"]
    np.testing.assert_array_equal(selected["arrays"]["c2"], c * 2)
    prod, summed = mixed["value"]["outputs"]
    assert prod["name"] == "prod" and prod["data"] == [2.0, 2.0, 2.0] and "parameters" not in prod
    assert summed["parameters"] == {"binary_data_size": 12}
    np.testing.assert_array_equal(mixed["arrays"]["sum"], a + b)
    assert list(grpc_selected["arrays"]) == ["sum"]
    np.testing.assert_array_equal(v1["arrays"]["y"], x * 2)
    np.testing.assert_array_equal(v2["arrays"]["y"], x * 3)
    assert (v1["value"]["model_version"], v2["value"]["model_version"]) == ("1", "2")
    assert latest["value"]["model_version"] == "2"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dynamic_batch_and_dimensions(triton, repo, transport):
    """The same model answers batches of 1 and 5 rows of any width, as OpenVINO does."""
    calls = []
    feeds = []
    for shape in ((1, 2), (5, 7)):
        x = np.random.default_rng(shape[0]).standard_normal(shape).astype(np.float32)
        feeds.append(x)
        inputs = [_tensor("x", "FP32", x)]
        calls.append((transport, "infer", {"model": "dynamic", "inputs": inputs, "all_outputs": ["row_sum", "square"]}))
    for x, result in zip(feeds, triton.calls(calls), strict=True):
        expected = models.direct_infer(repo[0]["dynamic"] / "model.xml", {"x": x})
        for name in ("row_sum", "square"):
            np.testing.assert_array_equal(result["arrays"][name], expected[name])


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("model", "datatype", "array"),
    [
        ("half", "FP16", np.array([[0.5, -1.25, 3.0], [7.5, 0.0, -2.0]], np.float16)),
        ("flags", "BOOL", np.array([[True, False, True]])),
        ("small", "INT8", np.array([[-128, 0, 126]], np.int8)),
    ],
)
def test_fp16_bool_and_int8_inputs(triton, repo, transport, model, datatype, array):
    result = triton.call(transport, "infer", model=model, inputs=[_tensor("x", datatype, array)], all_outputs=["y"])
    assert result["ok"], result
    expected = models.direct_infer(repo[0][model] / "model.xml", {"x": array})["y"]
    assert result["arrays"]["y"].dtype == expected.dtype
    np.testing.assert_array_equal(result["arrays"]["y"], expected)


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_bytes_for_a_numeric_input_that_takes_no_images_are_refused_clearly(triton, transport):
    """BYTES go to string inputs, or as JPEG/PNG files to rank-4 image inputs (images.py); the
    scale model's x is FP32 [-1, 4], neither."""
    bytes_input = {"name": "x", "datatype": "BYTES", "strings": ["a", "b", "c", "d"]}
    result = triton.call(transport, "infer", model="scale", inputs=[bytes_input])
    assert result["ok"] is False
    assert result["status"] == ("400" if transport == "http" else "StatusCode.INVALID_ARGUMENT")
    assert "input 'x' expects FP32 of shape [-1, 4]; encoded images (JPEG, PNG) are accepted only" in result["message"]


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_errors_name_the_problem_and_the_server_keeps_serving(triton, transport):
    x = np.ones((1, 4), np.float32)
    unknown, shape, datatype, ok = triton.calls(
        [
            (transport, "infer", {"model": "nope", "inputs": [_tensor("x", "FP32", x)]}),
            (transport, "infer", {"model": "scale", "inputs": [_tensor("x", "FP32", np.ones((1, 5), np.float32))]}),
            (transport, "infer", {"model": "scale", "inputs": [_tensor("x", "FP64", x.astype(np.float64))]}),
            (transport, "infer", {"model": "scale", "inputs": [_tensor("x", "FP32", x)]}),
        ]
    )
    codes = {"http": ("404", "400"), "grpc": ("StatusCode.NOT_FOUND", "StatusCode.INVALID_ARGUMENT")}[transport]
    assert (unknown["ok"], unknown["status"]) == (False, codes[0]) and "nope" in unknown["message"]
    assert (shape["ok"], shape["status"]) == (False, codes[1])
    assert "input 'x' expects shape [-1, 4] (-1: any size), got [1, 5]" in shape["message"]
    assert (datatype["ok"], datatype["status"]) == (False, codes[1])
    assert "input 'x' expects dtype FP32, got FP64" in datatype["message"]
    np.testing.assert_array_equal(ok["arrays"]["y"], x * 3)


def test_broken_http_bodies_are_400s_and_the_server_keeps_serving(triton, server, tmp_path):
    """The client's own binary body (generate_request_body), truncated or with a header length
    past its end, and malformed JSON, sent as they are with `requests`."""
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    body_path = tmp_path / "body.bin"
    made = triton.call("http", "body", inputs=[_tensor("x", "FP32", x)], body_path=str(body_path))
    body, json_size = body_path.read_bytes(), made["value"]
    url = f"{server.url}/v2/models/scale/infer"

    def post(data: bytes, header_length: int | None) -> requests.Response:
        headers = {"Content-Type": "application/octet-stream"}
        if header_length is not None:
            headers["Inference-Header-Content-Length"] = str(header_length)
        return requests.post(url, data=data, headers=headers, timeout=10)

    assert_error(post(body[:-3], json_size), 400, "input 'x'", "binary_data_size 16 reaches past the body's end")
    assert_error(post(body, len(body) + 10), 400, "Inference-Header-Content-Length", "past the end of the")
    assert_error(post(b'{"inputs": [', None), 400, "not valid JSON")
    assert_error(post(body, json_size - 5), 400, "not valid JSON")
    answer = post(body, json_size)
    assert answer.status_code == 200, answer.text
    length = int(answer.headers["Inference-Header-Content-Length"])
    np.testing.assert_array_equal(np.frombuffer(answer.content[length:], np.float32).reshape(1, 4), x * 3)


def test_plain_http_routes_and_status_codes(server):
    """What curl sees: the spec's JSON shapes, 404 for an unknown model or a path no route
    serves (naming the v2 routes), 405 for a method a route does not take."""
    assert requests.get(f"{server.url}/v2/health/live", timeout=5).json() == {"live": True}
    assert requests.get(f"{server.url}/v2/health/ready", timeout=5).json() == {"ready": True}
    assert requests.get(f"{server.url}/v2/models/scale/versions/1/ready", timeout=5).json() == {
        "name": "scale",
        "ready": True,
    }
    assert_error(requests.get(f"{server.url}/v2/models/nope/ready", timeout=5), 404, "nope")
    assert_error(requests.get(f"{server.url}/v2/models/nope", timeout=5), 404, "nope")
    assert_error(requests.get(f"{server.url}/v2/models/scale/versions/x", timeout=5), 400, "version number")
    assert_error(requests.get(f"{server.url}/v2/models/scale/infer", timeout=5), 404, "POST /v2/models/{name}")
    assert_error(requests.get(f"{server.url}/v2/repository/index", timeout=5), 404, "expected GET /v2,")
    assert_error(requests.put(f"{server.url}/v2/health/live", timeout=5), 405)
    answer = requests.post(
        f"{server.url}/v2/models/scale/infer",
        json={"id": "1", "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [[1, 2, 3, 4]]}]},
        timeout=10,
    )
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {
        "model_name": "scale",
        "model_version": "2",
        "id": "1",
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 4], "data": [3.0, 6.0, 9.0, 12.0]}],
    }


def test_not_ready_until_every_model_has_an_available_version(tmp_path):
    """A configured model with no version yet: /v2/health/ready is 503 naming it (KServe's
    ServerNotReady), live stays 200; once a version appears (the poller finds it) it is 200."""
    models.save(models.scale_model(2.0), tmp_path / "scale")
    (tmp_path / "later").mkdir()
    config = write_config(
        tmp_path / "config.json",
        [
            {"name": "scale", "base_path": str(tmp_path / "scale")},
            {"name": "later", "base_path": str(tmp_path / "later")},
        ],
    )
    process = RestServer(
        ["config", "--config_path", str(config), "--file_system_poll_wait_seconds", "1"], tmp_path / "log"
    )
    try:
        process.wait_ready()
        assert_error(requests.get(f"{process.url}/v2/health/ready", timeout=5), 503, "later")
        assert_error(requests.get(f"{process.url}/v2/models/later/ready", timeout=5), 503, "later")
        assert requests.get(f"{process.url}/v2/health/live", timeout=5).status_code == 200
        models.save(models.scale_model(5.0), tmp_path / "later")
        process.wait_for(lambda: requests.get(f"{process.url}/v2/health/ready", timeout=5).status_code == 200, 30)
    finally:
        assert process.stop() == 0


def test_sagemaker_serve_answers_v2_on_its_port(tmp_path):
    """`serve` builds on the same REST app: /v2 is on port 8080 beside /ping and /invocations."""
    models.save(models.scale_model(2.0), tmp_path / "model" / "scale", 1)
    process = ServeProcess(tmp_path / "model", tmp_path / "serve.log").wait_ready()
    try:
        assert requests.get(f"{process.url}/v2/health/ready", timeout=5).json() == {"ready": True}
        answer = requests.post(
            f"{process.url}/v2/models/scale/infer",
            json={"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
            timeout=10,
        )
        assert answer.json()["outputs"][0]["data"] == [2.0, 4.0, 6.0, 8.0]
    finally:
        assert process.stop() == 0
