"""`serve` as SageMaker runs it: each model directory layout, every content type and Accept
type of /invocations, custom attributes, errors; answers equal OpenVINO's own result and the
gRPC answer of the same process."""

from __future__ import annotations

import io
import json
import pathlib

import numpy as np
import openvino as ov
import pytest
import requests

from tests import models
from tests.grpc_client import RawClient
from tests.rest_helpers import assert_error
from tests.sagemaker_helpers import ServeProcess, csv_body, json_body, npy_answer, npy_body, npz_body

X = np.array([[1.5, -2.0, 3.25, 4.0], [5.0, 6.5, -7.0, 8.125]], dtype=np.float32)


def _bare(directory: pathlib.Path, model: ov.Model) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(directory / "model.xml"), compress_to_fp16=False)
    return directory / "model.xml"


def _layout(kind: str, root: pathlib.Path) -> tuple[dict[str, pathlib.Path], dict[str, str]]:
    """A model directory of one layout: model name -> IR file, and the extra environment."""
    if kind == "versions":
        models.save(models.scale_model(5.0), root, 1)
        return {"model": models.save(models.scale_model(2.0), root, 2) / "model.xml"}, {}
    if kind == "bare":
        return {"resnet": _bare(root, models.scale_model(3.0))}, {"SAGEMAKER_TFS_DEFAULT_MODEL_NAME": "resnet"}
    if kind == "subdirectories":
        return {
            "a": models.save(models.scale_model(4.0), root / "a", 7) / "model.xml",
            "b": _bare(root / "b", models.scale_model(6.0)),
        }, {"SAGEMAKER_TFS_DEFAULT_MODEL_NAME": "a"}
    assert kind == "config"
    xml = models.save(models.scale_model(7.0), root / "elsewhere" / "m", 3) / "model.xml"
    config = {"model_config_list": [{"config": {"name": "m", "base_path": "elsewhere/m"}}]}
    (root / "config.json").write_text(json.dumps(config))
    return {"m": xml}, {}


@pytest.mark.parametrize("kind", ["versions", "bare", "subdirectories", "config"])
def test_layouts_answer_as_openvino_and_grpc(kind: str, tmp_path: pathlib.Path) -> None:
    irs, env = _layout(kind, tmp_path / "model")
    scratch = tmp_path / "tmp"  # the server's temporary directory: links to bare IR live there
    scratch.mkdir()
    server = ServeProcess(tmp_path / "model", tmp_path / "serve.log", {**env, "TMPDIR": str(scratch)}).wait_ready()
    client = RawClient(server.grpc_address)
    try:
        assert any(scratch.glob("ie_serving_sagemaker_*/*/1")) == (kind in ("bare", "subdirectories"))
        for name, xml in irs.items():
            expected = models.direct_infer(xml, {"x": X})["y"]
            response = server.invoke(json_body(X), "application/json", attributes=f"tfs-model-name={name}")
            assert response.status_code == 200, response.text
            assert response.headers["Content-Type"] == "application/json"
            np.testing.assert_array_equal(np.array(response.json()["predictions"], np.float32), expected)
            _version, grpc_outputs = client.predict(name, {"x": X})
            np.testing.assert_array_equal(grpc_outputs["y"], expected)
        default = server.invoke(json_body(X), "application/json")  # no attributes: the default model
        first = next(iter(irs.values()))
        np.testing.assert_array_equal(default.json()["predictions"], models.direct_infer(first, {"x": X})["y"])
    finally:
        client.close()
        assert server.stop() == 0
    assert list(scratch.iterdir()) == []  # removed at exit, not left behind on every start


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """Two models as sub-directories, no default: scale (x -> y) with versions 1 and 2, multi (a, b, c)."""
    root = tmp_path_factory.mktemp("sagemaker")
    models.save(models.scale_model(2.0), root / "model" / "scale", 1)
    models.save(models.scale_model(3.0), root / "model" / "scale", 2)
    models.save(models.multi_io_model(), root / "model" / "multi", 1)
    env = {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"}
    process = ServeProcess(root / "model", root / "serve.log", env).wait_ready()
    yield process
    assert process.stop() == 0


SCALE = "tfs-model-name=scale"


def test_ping_is_200_with_an_empty_body(server: ServeProcess) -> None:
    response = requests.get(f"{server.url}/ping", timeout=5)
    assert (response.status_code, response.content) == (200, b"")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json_body(X), "application/json"),  # a bare list: wrapped as instances
        (json_body({"instances": X.tolist()}), "application/json"),
        (json_body({"inputs": {"x": X.tolist()}}), "application/json"),
        (b"\n".join(json.dumps(row).encode() for row in X.tolist()), "application/jsonlines"),
        (csv_body(X), "text/csv"),
        (csv_body(X), "text/csv; charset=utf-8"),
        (npy_body(X), "application/x-npy"),
        (npz_body(x=X), "application/x-npz"),
    ],
)
def test_content_types(server: ServeProcess, body: bytes, content_type: str) -> None:
    response = server.invoke(body, content_type, attributes=SCALE)
    assert response.status_code == 200, response.text
    answer = response.json()
    predictions = answer.get("predictions", answer.get("outputs"))
    np.testing.assert_array_equal(np.array(predictions, np.float32), X * 3)


@pytest.mark.parametrize("accept", ["text/csv", "application/x-npy", "application/jsonlines", "application/x-npz"])
def test_accept_types(server: ServeProcess, accept: str) -> None:
    """The Content-Type is exactly the type asked for: the SageMaker SDK's NumpyDeserializer and
    PandasDeserializer compare it to text/csv as a whole. A JSON lines answer is TF Serving's JSON
    on one line, as AWS's container gives it (tensorflowServing.js tfs_json_request)."""
    response = server.invoke(npy_body(X), "application/x-npy", accept=accept, attributes=SCALE)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == accept
    if accept == "text/csv":
        got = np.loadtxt(response.text.splitlines(), delimiter=",", dtype=np.float32)
    elif accept == "application/jsonlines":
        (line,) = response.text.splitlines()
        got = np.array(json.loads(line)["predictions"], np.float32)
    elif accept == "application/x-npz":
        got = np.load(io.BytesIO(response.content), allow_pickle=False)["y"]
    else:
        got = npy_answer(response)
    np.testing.assert_array_equal(got, X * 3)


def test_custom_attributes_pick_model_and_version(server: ServeProcess) -> None:
    response = server.invoke(npy_body(X), "application/x-npy", "application/x-npy", f"{SCALE},tfs-model-version=2")
    np.testing.assert_array_equal(npy_answer(response), X * 3)
    a, b, c = np.ones((1, 3), np.float32), np.full((1, 3), 2, np.float32), np.array([3, 4], np.int64)
    response = server.invoke(npz_body(a=a, b=b, c=c), "application/x-npz", attributes="tfs-model-name=multi")
    assert response.status_code == 200, response.text
    assert response.json() == {"outputs": {"sum": [[3.0] * 3], "prod": [[2.0] * 3], "c2": [6, 8]}}


def test_errors(server: ServeProcess) -> None:
    # no tfs-model-name: the first model by path is the default, as AWS's container takes the first it finds
    assert "default model: multi (the first by path" in server.log()
    assert_error(server.invoke(json_body(X), "application/json"), 400, "the model has 3 inputs ['a', 'b', 'c']")
    assert_error(server.invoke(b"x", "text/plain", attributes=SCALE), 415, "text/plain")
    assert_error(server.invoke(npy_body(X), "application/x-npy", "image/png", SCALE), 406, "image/png")
    assert_error(server.invoke(json_body(X), "application/json", attributes="tfs-model-name=nope"), 404, "nope")
    assert_error(server.invoke(json_body(X), "application/json", attributes=f"{SCALE},tfs-model-version=9"), 404)
    assert_error(server.invoke(json_body(X), "application/json", attributes=f"{SCALE},tfs-model-version=x"), 400, "x")
    assert_error(
        server.invoke(json_body(X), "application/json", attributes=f"{SCALE},tfs-method=classify"),
        400,
        'Is not an object; expected {"examples": [...]}',
    )
    assert_error(
        server.invoke(json_body(X), "application/json", attributes=f"{SCALE},tfs-method=x"), 400, "tfs-method=x"
    )
    assert_error(server.invoke(json_body([[1, 2]]), "application/json", attributes=SCALE), 400, "shape")
    assert_error(server.invoke(b"1,2,x,4", "text/csv", attributes=SCALE), 400, "line 1")
    big = np.zeros((70_000, 4), np.float32)  # about 1.1 MB > SAGEMAKER_MAX_PAYLOAD_IN_MB=1
    assert_error(
        server.invoke(npy_body(big), "application/x-npy", attributes=SCALE), 413, "SAGEMAKER_MAX_PAYLOAD_IN_MB"
    )


def test_npy_with_pickles_is_refused(server: ServeProcess) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_error(server.invoke(buffer.getvalue(), "application/x-npy", attributes=SCALE), 400, "pickle")


def test_tf_serving_rest_routes_on_the_same_port(server: ServeProcess) -> None:
    response = requests.post(
        f"{server.url}/v1/models/scale/versions/2:predict", json={"instances": X.tolist()}, timeout=10
    )
    np.testing.assert_array_equal(np.array(response.json()["predictions"], np.float32), X * 3)
    status = requests.get(f"{server.url}/v1/models/multi", timeout=10).json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
