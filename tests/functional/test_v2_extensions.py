"""Triton's model repository and statistics extensions against a real server, driven by
Triton's own Python client (tritonclient[http,grpc] in .venv-triton: get_model_repository_index,
load_model, unload_model, get_inference_statistics; its generated gRPC stub for the index's
`ready` filter) and plain HTTP as the docs show the bodies.

The contract: triton-inference-server/server docs/protocol/extension_model_repository.md (index
entries name, version, state, reason; load "or reload"; unload), extension_statistics.md
($model_stat: inference_count, execution_count, last_inference, inference_stats {success,
fail, queue, compute_input, compute_infer, compute_output} as {count, ns}), Triton's states
(core model_lifecycle.h: READY, UNAVAILABLE with reason "unloaded", LOADING, UNLOADING) and
errors ("requested model 'M' is not available", INVALID_ARG: HTTP 400). What "load a model
by name" means here (a configured model) is ie_serving/repository.py's docstring.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import requests

from tests import models
from tests.rest_helpers import RestServer, assert_error, write_config
from tests.sagemaker_helpers import ServeProcess
from tests.v2_helpers import Triton


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    models.save(models.scale_model(2.0), root / "scale", 1)
    models.save(models.scale_model(3.0), root / "scale", 2)
    other = models.save(models.scale_model(5.0), root / "other")
    entries = [
        {"name": "scale", "base_path": str(root / "scale"), "model_version_policy": {"all": {}}},
        {"name": "other", "base_path": str(root / "other")},
    ]
    return root, other, write_config(root / "config.json", entries)


@pytest.fixture(scope="module")
def server(repo, tmp_path_factory):
    process = RestServer(["config", "--config_path", str(repo[2])], tmp_path_factory.mktemp("log") / "server.log")
    yield process.wait_ready()
    assert process.stop() == 0


@pytest.fixture
def triton(server, tmp_path):
    return Triton(f"127.0.0.1:{server.rest_port}", server.address, tmp_path)


def _x(rows: int) -> dict:
    return {"name": "x", "datatype": "FP32", "array": np.arange(rows * 4, dtype=np.float32).reshape(rows, 4)}


def _wait_index(server: RestServer, entry: dict, timeout: float = 10) -> list[dict]:
    """The HTTP index once it holds `entry` (an unload finishes in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        index = requests.post(f"{server.url}/v2/repository/index", timeout=10).json()
        if entry in index or time.monotonic() > deadline:
            assert entry in index, index
            return index
        time.sleep(0.05)


def test_index_unload_and_load_by_name_over_http_and_grpc(triton, server, repo):
    http_index, grpc_index, metadata = triton.calls(
        [("http", "index", {}), ("grpc", "index", {}), ("grpc", "server_metadata", {})]
    )
    ready = [
        {"name": "other", "version": "1", "state": "READY", "reason": ""},
        {"name": "scale", "version": "1", "state": "READY", "reason": ""},
        {"name": "scale", "version": "2", "state": "READY", "reason": ""},
    ]
    assert http_index["value"] == ready
    # protobuf's JSON form leaves out the empty reason
    assert grpc_index["value"] == {"models": [{k: v for k, v in e.items() if v} for e in ready]}
    assert metadata["value"]["extensions"] == ["binary_tensor_data", "statistics", "model_repository"]

    unloaded, model_ready, server_ready, infer = triton.calls(
        [
            ("http", "unload", {"model": "other", "unload_dependents": True}),
            ("grpc", "model_ready", {"model": "other"}),
            ("http", "ready", {}),
            ("http", "infer", {"model": "other", "inputs": [_x(1)]}),
        ]
    )
    assert unloaded == {"ok": True, "value": None, "arrays": {}}
    assert model_ready["ok"] is False and model_ready["status"] == "StatusCode.NOT_FOUND", model_ready
    assert server_ready["value"] is True  # every model still served is ready, as Triton counts
    assert infer["ok"] is False and "Servable not found" in infer["message"], infer
    gone = {"name": "other", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"}
    _wait_index(server, gone)
    ready_only = requests.post(f"{server.url}/v2/repository/index", json={"ready": True}, timeout=10).json()
    assert [e["name"] for e in ready_only] == ["scale", "scale"]
    (grpc_ready,) = triton.calls([("grpc", "index", {"ready": True})])
    assert [e["name"] for e in grpc_ready["value"]["models"]] == ["scale", "scale"]

    loaded, again, result = triton.calls(
        [
            ("grpc", "load", {"model": "other"}),
            ("http", "load", {"model": "other"}),  # loaded: read its base path again, still READY
            ("grpc", "infer", {"model": "other", "inputs": [_x(2)]}),
        ]
    )
    assert loaded["ok"] and again["ok"], (loaded, again)
    x = _x(2)["array"]
    np.testing.assert_array_equal(result["arrays"]["y"], models.direct_infer(repo[1] / "model.xml", {"x": x})["y"])
    assert requests.post(f"{server.url}/v2/repository/index", timeout=10).json() == ready


def test_refusals_name_the_problem_and_the_server_keeps_serving(triton, server):
    unknown, config, unload_unknown, grpc_unknown, after = triton.calls(
        [
            ("http", "load", {"model": "nope"}),
            ("http", "load", {"model": "scale", "config": '{"max_batch_size": 8}'}),
            ("grpc", "unload", {"model": "nope"}),
            ("grpc", "load", {"model": "nope"}),
            ("http", "infer", {"model": "scale", "inputs": [_x(1)]}),
        ]
    )
    assert unknown["ok"] is False and unknown["status"] == "400", unknown
    assert unknown["message"] == "failed to load 'nope': no such model; the configured models are ['other', 'scale']"
    assert config["status"] == "400" and "Unrecognized load parameter 'config'" in config["message"], config
    assert unload_unknown["status"] == "StatusCode.INVALID_ARGUMENT", unload_unknown
    assert unload_unknown["message"] == "failed to unload 'nope': no such model"
    assert grpc_unknown["status"] == "StatusCode.INVALID_ARGUMENT", grpc_unknown
    assert after["ok"], after
    url = f"{server.url}/v2/repository"
    assert_error(requests.post(f"{url}/index", data=b"{", timeout=10), 400, "request) is not valid JSON")
    assert_error(requests.post(f"{url}/index", json={"ready": "yes"}, timeout=10), 400, '"ready": expected a boolean')
    assert_error(requests.post(f"{url}/index", json=[1], timeout=10), 400, "JSON object, got a list of 1 item")
    assert_error(requests.post(f"{url}/models/scale/load", json={"parameters": 3}, timeout=10), 400, '"parameters"')
    # a method the route does not take: 405 with Allow, as Triton's http_server.cc answers
    wrong = requests.get(f"{url}/index", timeout=10)
    assert_error(wrong, 405, "Method Not Allowed: GET /v2/repository/index", "load|unload")
    assert wrong.headers["Allow"] == "POST"


def test_a_model_that_fails_to_load_reports_why(triton, server, repo):
    """Refused as Triton refuses a model whose load failed: INVALID_ARG, 400 over HTTP
    (triton-inference-server/core src/model_repository_manager/model_repository_manager.cc)."""
    triton.call("http", "unload", model="other")
    _wait_index(server, {"name": "other", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"})
    xml = repo[1] / "model.xml"
    good = xml.read_bytes()
    try:
        xml.write_bytes(b"<net>not an IR")
        failed = triton.call("grpc", "load", model="other")
        assert failed["ok"] is False and failed["status"] == "StatusCode.INVALID_ARGUMENT", failed
        assert failed["message"].startswith("failed to load 'other': version 1: "), failed
        failed_http = triton.call("http", "load", model="other")
        assert failed_http["ok"] is False and failed_http["status"] == "400", failed_http
        index = requests.post(f"{server.url}/v2/repository/index", timeout=10).json()
        (entry,) = [e for e in index if e["name"] == "other"]
        assert entry["state"] == "UNAVAILABLE" and entry["reason"] and entry["reason"] != "unloaded", entry
    finally:
        xml.write_bytes(good)
    assert triton.call("http", "load", model="other")["ok"]
    assert triton.call("grpc", "model_ready", model="other")["value"] is True


def test_statistics_count_every_protocols_requests_per_version(triton, server):
    before = int(time.time() * 1000)
    start = {v: triton.call("http", "stats", model="scale", version=v)["value"]["model_stats"][0] for v in "12"}
    wrong_dtype = {"name": "x", "datatype": "FP64", "array": np.ones((1, 4), np.float64)}
    results = triton.calls(
        [
            ("http", "infer", {"model": "scale", "version": "1", "inputs": [_x(1)]}),
            ("http-json", "infer", {"model": "scale", "version": "1", "inputs": [_x(3)], "all_outputs": ["y"]}),
            ("grpc", "infer", {"model": "scale", "version": "2", "inputs": [_x(2)]}),
            ("http", "infer", {"model": "scale", "version": "1", "inputs": [wrong_dtype]}),
        ]
    )
    assert [r["ok"] for r in results] == [True, True, True, False], results
    assert results[3]["status"] == "400" and "FP64" in results[3]["message"], results[3]
    tf_rest = requests.post(f"{server.url}/v1/models/scale/versions/1:predict", json={"instances": [[1, 2, 3, 4]]})
    assert tf_rest.status_code == 200, tf_rest.text
    http_v1, grpc_v1, grpc_v2, every = triton.calls(
        [
            ("http", "stats", {"model": "scale", "version": "1"}),
            ("grpc", "stats", {"model": "scale", "version": "1"}),
            ("grpc", "stats", {"model": "scale", "version": "2"}),
            ("http", "stats", {}),
        ]
    )
    (one,) = http_v1["value"]["model_stats"]
    assert (one["name"], one["version"]) == ("scale", "1")
    assert one["inference_count"] - start["1"]["inference_count"] == 1 + 3 + 1  # batch sizes, TF REST included
    assert one["execution_count"] - start["1"]["execution_count"] == 3
    stats, was = one["inference_stats"], start["1"]["inference_stats"]
    assert stats["success"]["count"] - was["success"]["count"] == 3
    assert stats["fail"]["count"] - was["fail"]["count"] == 1  # the FP64 input reached version 1, then failed
    for phase in ("queue", "compute_input", "compute_infer", "compute_output"):
        assert stats[phase]["count"] == stats["success"]["count"], phase
    assert stats["success"]["ns"] > stats["compute_infer"]["ns"] > 0
    assert one["last_inference"] >= before
    assert {b["batch_size"] for b in one["batch_stats"]} >= {1, 3}
    (grpc_one,) = grpc_v1["value"]["model_stats"]  # the same counters; protobuf's JSON writes uint64 as strings
    assert int(grpc_one["inference_count"]) == one["inference_count"]
    assert int(grpc_one["inference_stats"]["fail"]["count"]) == stats["fail"]["count"]
    (two,) = grpc_v2["value"]["model_stats"]
    assert int(two["inference_count"]) - start["2"]["inference_count"] == 2
    assert [(s["name"], s["version"]) for s in every["value"]["model_stats"]] == [
        ("other", "1"),
        ("scale", "1"),
        ("scale", "2"),
    ]


def test_statistics_errors_are_tritons(triton, server):
    unknown, version, grpc_unknown = triton.calls(
        [
            ("http", "stats", {"model": "nope"}),
            ("http", "stats", {"model": "scale", "version": "7"}),
            ("grpc", "stats", {"model": "nope"}),
        ]
    )
    assert unknown["status"] == "400" and unknown["message"] == "requested model 'nope' is not available", unknown
    assert version["message"] == "requested model version is not available for model 'scale'", version
    assert grpc_unknown["status"] == "StatusCode.INVALID_ARGUMENT", grpc_unknown
    assert_error(requests.get(f"{server.url}/v2/models/scale/versions/x/stats", timeout=10), 400, "version number")


def test_serve_offers_the_repository_and_a_multi_model_endpoint_withdraws_it(tmp_path):
    """`serve` answers the extensions on its port 8080; under SAGEMAKER_MULTI_MODEL the /models
    endpoint owns loading, so the repository calls are 501 / UNIMPLEMENTED on both protocols
    (and not listed), while statistics still answer for the models it loaded."""
    models.save(models.scale_model(2.0), tmp_path / "model" / "scale", 1)
    single = ServeProcess(tmp_path / "model", tmp_path / "single.log").wait_ready()
    try:
        index = requests.post(f"{single.url}/v2/repository/index", timeout=10).json()
        assert index == [{"name": "scale", "version": "1", "state": "READY", "reason": ""}]
        assert requests.post(f"{single.url}/v2/repository/models/scale/unload", timeout=10).status_code == 200
        assert requests.post(f"{single.url}/v2/repository/models/scale/load", timeout=60).status_code == 200
        assert requests.get(f"{single.url}/ping", timeout=10).status_code == 200
    finally:
        assert single.stop() == 0

    root = tmp_path / "mme"
    models.save(models.scale_model(3.0), root / "m", 1)
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MULTI_MODEL_DIR": str(root)}
    multi = ServeProcess(tmp_path / "none", tmp_path / "multi.log", env).wait_ready()
    try:
        assert requests.post(f"{multi.url}/models", json={"model_name": "m", "url": "m"}, timeout=60).ok
        assert "model_repository" not in requests.get(f"{multi.url}/v2", timeout=10).json()["extensions"]
        refused = requests.post(f"{multi.url}/v2/repository/models/m/unload", timeout=10)
        assert_error(refused, 501, "not offered here", "POST and DELETE /models")
        triton = Triton(f"127.0.0.1:{multi.http_port}", multi.grpc_address, tmp_path)
        grpc_index, stats = triton.calls([("grpc", "index", {}), ("http", "stats", {"model": "m"})])
        assert grpc_index["status"] == "StatusCode.UNIMPLEMENTED", grpc_index
        assert stats["value"]["model_stats"][0]["name"] == "m", stats
        assert requests.get(f"{multi.url}/models/m", timeout=10).json()["versions"][0]["state"] == "AVAILABLE"
    finally:
        assert multi.stop() == 0


def test_unload_and_load_under_traffic_fail_no_request_of_other_models(server):
    """Requests to `scale` keep succeeding while `other` is unloaded and loaded again five times;
    requests to `other` meanwhile either succeed or are 404 (not served at that moment), never
    a 5xx: in-flight requests finish on the version they leased (store.py)."""
    stop = threading.Event()
    outcomes: dict[str, list[int]] = {"scale": [], "other": []}

    def hammer(model: str) -> None:
        body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
        with requests.Session() as session:
            while not stop.is_set():
                answer = session.post(f"{server.url}/v2/models/{model}/infer", json=body, timeout=30)
                outcomes[model].append(answer.status_code)

    threads = [threading.Thread(target=hammer, args=(m,)) for m in ("scale", "other", "scale")]
    for thread in threads:
        thread.start()
    try:
        for _ in range(5):
            assert requests.post(f"{server.url}/v2/repository/models/other/unload", timeout=30).status_code == 200
            time.sleep(0.2)
            assert requests.post(f"{server.url}/v2/repository/models/other/load", timeout=60).status_code == 200
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert outcomes["scale"] and set(outcomes["scale"]) == {200}, sorted(set(outcomes["scale"]))
    assert 200 in outcomes["other"] and set(outcomes["other"]) <= {200, 404}, sorted(set(outcomes["other"]))
    (stats,) = requests.get(f"{server.url}/v2/models/other/stats", timeout=10).json()["model_stats"]
    assert stats["inference_stats"]["fail"]["count"] == 0  # no request failed on a version it reached


def test_statistics_of_a_batching_model_count_batches_as_executions(tmp_path):
    """A model with the config's `batching` (up to 8 rows within 200 ms): 8 concurrent v2
    requests of one row are 8 inferences in fewer executions, each answer OpenVINO's, the
    batch_stats under the rows the batches ran (Triton counts its dynamic batcher so)."""
    base = tmp_path / "scale"
    models.save(models.scale_model(2.0), base)
    batching = {"max_batch_size": 8, "batch_timeout_micros": 200_000}
    config = write_config(tmp_path / "config.json", [{"name": "scale", "base_path": str(base), "batching": batching}])
    server = RestServer(["config", "--config_path", str(config)], tmp_path / "server.log").wait_ready()
    try:
        answers: list[object] = [None] * 8

        def one(index: int) -> None:
            body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [index] * 4}]}
            answers[index] = requests.post(f"{server.url}/v2/models/scale/infer", json=body, timeout=30).json()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert [a["outputs"][0]["data"] for a in answers] == [[2.0 * i] * 4 for i in range(8)]
        (stats,) = requests.get(f"{server.url}/v2/models/scale/stats", timeout=10).json()["model_stats"]
        assert stats["inference_count"] == 8 and stats["inference_stats"]["success"]["count"] == 8
        assert 1 <= stats["execution_count"] < 8, stats
        assert sum(b["compute_infer"]["count"] for b in stats["batch_stats"]) == stats["execution_count"]
        assert sum(b["batch_size"] * b["compute_infer"]["count"] for b in stats["batch_stats"]) == 8
        assert stats["inference_stats"]["queue"]["ns"] > 0
    finally:
        assert server.stop() == 0


def test_a_model_repository_path_loads_its_directories_by_name(tmp_path, repo):
    """--model_repository_path ROOT: Triton's explicit model control (server
    docs/user_guide/model_management.md) through tritonclient: ROOT's directories are listed by
    name, load_model(NAME) serves ROOT/NAME (answers equal to OpenVINO's), unload_model stops
    it; a root that is no directory stops start-up naming the flag."""
    root = tmp_path / "repository"
    extra = models.save(models.scale_model(7.0), root / "extra", 2)
    args = ["model", "--model_name", "other", "--model_path", str(repo[1].parent)]
    server = RestServer([*args, "--model_repository_path", str(root)], tmp_path / "server.log").wait_ready()
    try:
        triton = Triton(f"127.0.0.1:{server.rest_port}", server.address, tmp_path)
        before, loaded, result, after = triton.calls(
            [
                ("http", "index", {}),
                ("grpc", "load", {"model": "extra"}),
                ("http", "infer", {"model": "extra", "inputs": [_x(2)]}),
                ("grpc", "index", {}),
            ]
        )
        assert before["value"] == [{"name": "extra"}, {"name": "other", "version": "1", "state": "READY", "reason": ""}]
        assert loaded["ok"], loaded
        expected = models.direct_infer(extra / "model.xml", {"x": _x(2)["array"]})["y"]
        np.testing.assert_array_equal(result["arrays"]["y"], expected)
        assert {"name": "extra", "version": "2", "state": "READY"} in after["value"]["models"]
        unloaded, missing = triton.calls([("http", "unload", {"model": "extra"}), ("http", "load", {"model": "x"})])
        assert unloaded["ok"] and missing["status"] == "400", (unloaded, missing)
        assert f"{root} holds no directory of that name" in missing["message"]
    finally:
        assert server.stop() == 0
    refused = subprocess.run(
        [sys.executable, "-m", "ie_serving", *args, "--model_repository_path", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2, refused.stderr
    assert "--model_repository_path: expected a local directory holding model directories" in refused.stderr
