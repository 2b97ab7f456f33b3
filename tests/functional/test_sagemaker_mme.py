"""`serve` as a SageMaker multi-model endpoint (SAGEMAKER_MULTI_MODEL=true): every /models route
and status code over real HTTP, answers equal OpenVINO's own result and the gRPC answer of the
same process, and every way of leading a name or url outside the model root refused."""

from __future__ import annotations

import http.client
import os
import pathlib
import subprocess
import sys

import grpc
import numpy as np
import openvino as ov
import pytest
import requests
from openvino import opset13 as ops

from tests import models
from tests.grpc_client import RawClient
from tests.rest_helpers import assert_error
from tests.sagemaker_helpers import ServeProcess, json_body, npy_answer, npy_body

X = np.array([[1.5, -2.0, 3.25, 4.0], [5.0, 6.5, -7.0, 8.125]], dtype=np.float32)
TARGET = "X-Amzn-SageMaker-Target-Model"


def _big_model() -> ov.Model:
    """y = x * 2 + 0 * sum(C) with C of 200,000 float32 (800 KB of .bin: needs about 1.6 MB)."""
    x = ops.parameter([-1, 4], np.float32, name="x")
    weights = ops.constant(np.ones(200_000, np.float32))
    zero = ops.multiply(ops.reduce_sum(weights, ops.constant(np.int64([0]))), ops.constant(np.float32(0)))
    y = ops.add(ops.multiply(x, ops.constant(np.float32(2))), zero)
    y.output(0).get_tensor().set_names({"y"})
    return ov.Model([y], [x], "big")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The model root: versions, bare IR, a too-big model, traps pointing outside, no model."""
    base = tmp_path_factory.mktemp("mme")
    root, outside = base / "models", base / "outside"
    models.save(models.scale_model(5.0), root / "two" / "model", 1)
    models.save(models.scale_model(2.0), root / "two" / "model", 2)
    bare = root / "three" / "model"
    bare.mkdir(parents=True)
    ov.save_model(models.scale_model(3.0), str(bare / "model.xml"), compress_to_fp16=False)
    models.save(_big_model(), root / "big", 1)
    models.save(models.scale_model(9.0), outside / "secret", 1)
    (root / "link_out").symlink_to(outside / "secret", target_is_directory=True)
    (root / "inner_link" / "1").mkdir(parents=True)
    (root / "inner_link" / "1" / "model.xml").symlink_to(outside / "secret" / "1" / "model.xml")
    (root / "inner_link" / "1" / "model.bin").symlink_to(outside / "secret" / "1" / "model.bin")
    (root / "empty").mkdir()
    (root / "broken" / "1").mkdir(parents=True)
    (root / "broken" / "1" / "model.xml").write_text("<not a model>")
    (root / "broken" / "1" / "model.bin").write_bytes(b"\0" * 8)
    return root


@pytest.fixture(scope="module")
def server(root: pathlib.Path):
    env = {
        "SAGEMAKER_MULTI_MODEL": "true",
        "SAGEMAKER_MULTI_MODEL_DIR": str(root),
        "SAGEMAKER_MAX_MODEL_MEMORY_MB": "1",
        "TMPDIR": str(root.parent / "tmp"),  # where the links to bare IR models live while served
    }
    (root.parent / "tmp").mkdir()
    process = ServeProcess(root / "no_single_model_dir", root.parent / "serve.log", env).wait_ready()
    yield process
    assert process.stop() == 0
    assert list((root.parent / "tmp").iterdir()) == []  # removed when the worker exits


def _load(server: ServeProcess, name: object, url: object) -> requests.Response:
    return requests.post(f"{server.url}/models", json={"model_name": name, "url": url}, timeout=60)


def test_starts_empty_and_ready(server: ServeProcess) -> None:
    assert requests.get(f"{server.url}/ping", timeout=5).status_code == 200
    assert requests.get(f"{server.url}/models", timeout=5).json() == {"models": []}


def test_load_list_describe_invoke_unload(server: ServeProcess, root: pathlib.Path) -> None:
    two_xml = root / "two" / "model" / "2" / "model.xml"
    three_xml = root / "three" / "model" / "model.xml"
    assert _load(server, "two", str(root / "two" / "model")).status_code == 200
    loaded = _load(server, "three", "three/model")  # relative urls are under the model root
    assert loaded.json() == {"modelName": "three", "modelUrl": "three/model", "status": "loaded"}
    assert requests.get(f"{server.url}/ping", timeout=5).status_code == 200

    first = requests.get(f"{server.url}/models", params={"max_results": 1}, timeout=5).json()
    assert first["models"] == [{"modelName": "three", "modelUrl": "three/model"}]
    second = requests.get(
        f"{server.url}/models", params={"max_results": 1, "next_page_token": first["nextPageToken"]}, timeout=5
    ).json()
    assert second == {"models": [{"modelName": "two", "modelUrl": str(root / "two" / "model")}]}
    described = requests.get(f"{server.url}/models/two", timeout=5).json()
    assert described == {
        "modelName": "two",
        "modelUrl": str(root / "two" / "model"),
        "versions": [{"version": 2, "state": "AVAILABLE"}],
    }

    invoked = requests.post(f"{server.url}/models/two/invoke", data=json_body(X), timeout=30)
    assert invoked.status_code == 200, invoked.text
    np.testing.assert_array_equal(invoked.json()["predictions"], models.direct_infer(two_xml, {"x": X})["y"])
    headers = {"Content-Type": "application/x-npy", "Accept": "application/x-npy", TARGET: "three"}
    by_header = requests.post(f"{server.url}/invocations", data=npy_body(X), headers=headers, timeout=30)
    np.testing.assert_array_equal(npy_answer(by_header), models.direct_infer(three_xml, {"x": X})["y"])
    client = RawClient(server.grpc_address)
    try:
        _version, outputs = client.predict("three", {"x": X})
        np.testing.assert_array_equal(outputs["y"], models.direct_infer(three_xml, {"x": X})["y"])

        assert requests.delete(f"{server.url}/models/three", timeout=30).json() == {
            "modelName": "three",
            "status": "unloaded",
        }
        assert_error(requests.get(f"{server.url}/models/three", timeout=5), 404, "three", "not loaded")
        assert_error(requests.delete(f"{server.url}/models/three", timeout=5), 404, "three")
        assert_error(requests.post(f"{server.url}/models/three/invoke", data=json_body(X), timeout=5), 404, "three")
        assert_error(requests.post(f"{server.url}/invocations", data=npy_body(X), headers=headers, timeout=5), 404)
        with pytest.raises(grpc.RpcError) as failure:
            client.predict("three", {"x": X})
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        client.close()
    assert _load(server, "three", "three/model").status_code == 200  # a name can be used again
    for name in ("two", "three"):
        assert requests.delete(f"{server.url}/models/{name}", timeout=30).status_code == 200
    assert requests.get(f"{server.url}/models", timeout=5).json() == {"models": []}


def test_double_load_is_409(server: ServeProcess) -> None:
    assert _load(server, "twice", "two/model").status_code == 200
    try:
        assert_error(_load(server, "twice", "three/model"), 409, "twice", "already loaded")
    finally:
        requests.delete(f"{server.url}/models/twice", timeout=30)


def test_memory_limit_is_507(server: ServeProcess) -> None:
    assert_error(_load(server, "big", "big"), 507, "big", "SAGEMAKER_MAX_MODEL_MEMORY_MB=1")
    assert_error(requests.get(f"{server.url}/models/big", timeout=5), 404)


def test_bad_bodies_and_parameters_are_400(server: ServeProcess) -> None:
    post = f"{server.url}/models"
    assert_error(requests.post(post, data=b"{not json", timeout=5), 400, "not JSON")
    assert_error(requests.post(post, json={"model_name": "x"}, timeout=5), 400, "url")
    assert_error(requests.post(post, json=["two"], timeout=5), 400, "model_name")
    assert_error(_load(server, "x", 5), 400, "url")
    assert_error(_load(server, "nothing", "empty"), 400, "holds no model")
    assert_error(_load(server, "nothing", "missing"), 400, "not a directory")
    assert_error(requests.get(post, params={"max_results": "0"}, timeout=5), 400, "max_results")
    assert_error(requests.get(post, params={"next_page_token": "../x"}, timeout=5), 400)


def test_unloadable_files_are_500_and_free_the_name(server: ServeProcess) -> None:
    assert_error(_load(server, "broken", "broken"), 500, "broken", "could not be loaded")
    assert requests.get(f"{server.url}/models", timeout=5).json() == {"models": []}
    assert_error(_load(server, "broken", "broken"), 500, "could not be loaded")  # not 409: nothing was kept


@pytest.mark.parametrize(
    "name",
    ["../etc", "..", "a/b", "/abs", ".hidden", "a..b", "a%2Fb", "a b", "", "x" * 129, 7, None],
)
def test_unsafe_names_are_refused(server: ServeProcess, name: object) -> None:
    assert_error(_load(server, name, "two/model"), 400, "model_name", "refused")


@pytest.mark.parametrize(
    ("url", "status", "fragment"),
    [
        ("../outside/secret", 400, "'..'"),
        ("two/../../outside/secret", 400, "'..'"),
        ("%2e%2e/outside/secret", 400, "percent"),
        ("two%2Fmodel", 400, "percent"),
        ("two/model\x00", 400, "NUL"),
        ("file:///etc", 400, "remote"),
        ("s3://bucket/model", 400, "remote"),
        ("/etc", 403, "outside the model root"),
        ("/", 403, "outside the model root"),
        (".", 403, "outside the model root"),
        ("link_out", 403, "outside the model root"),
        ("inner_link", 403, "symlink"),
    ],
)
def test_urls_outside_the_root_are_refused(server: ServeProcess, url: str, status: int, fragment: str) -> None:
    assert_error(_load(server, "trap", url), status, "refused", fragment)
    assert_error(requests.get(f"{server.url}/models/trap", timeout=5), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/models/..%2F..%2Fetc"),
        ("GET", "/models/%2e%2e"),
        ("DELETE", "/models/..%2Fmodels"),
        ("POST", "/models/..%2Ftwo/invoke"),
        ("GET", "/models/a%00b"),
    ],
)
def test_unsafe_names_in_paths_are_refused(server: ServeProcess, method: str, path: str) -> None:
    """Sent byte for byte (requests would normalise the dots away)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    try:
        connection.request(method, path, body=b"[]" if method == "POST" else None)
        response = connection.getresponse()
        assert response.status == 400, response.read()
        assert b"refused" in response.read()
    finally:
        connection.close()


def test_several_workers_are_refused_at_start(tmp_path: pathlib.Path) -> None:
    env = {
        **os.environ,
        "SAGEMAKER_MULTI_MODEL": "true",
        "SAGEMAKER_MULTI_MODEL_DIR": str(tmp_path),
        "SAGEMAKER_GUNICORN_WORKERS": "2",
    }
    done = subprocess.run([sys.executable, "-m", "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "SAGEMAKER_GUNICORN_WORKERS=2 with SAGEMAKER_MULTI_MODEL=true" in done.stderr
