"""Every REST failure against a real server: TF Serving's HTTP status for the failure's gRPC
code, a `{"error": ...}` body naming what was expected and what came, and a server that keeps
answering afterwards."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from tests import models
from tests.rest_helpers import RestServer, assert_error, write_config

MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    models.save(models.scale_model(2.0), root / "scale", 1)
    broken = root / "scale" / "2"
    broken.mkdir()
    (broken / "model.xml").write_text("not an IR")
    (broken / "model.bin").write_bytes(b"")
    models.save(models.multi_io_model(), root / "multi")
    models.save(models.dtype_model(np.int8), root / "int8")
    models.save(models.dtype_model(np.bool_), root / "bool")
    models.save(models.dtype_model(np.float32), root / "float32")
    config = write_config(
        root / "config.json",
        [
            {"name": "scale", "base_path": str(root / "scale"), "model_version_policy": {"all": {}}},
            {"name": "multi", "base_path": str(root / "multi")},
            {"name": "int8", "base_path": str(root / "int8")},
            {"name": "bool", "base_path": str(root / "bool")},
            {"name": "float32", "base_path": str(root / "float32")},
        ],
    )
    process = RestServer(
        ["config", "--config_path", str(config), "--rest_max_body_mb", "1"],
        tmp_path_factory.mktemp("log") / "server.log",
    )
    yield process.wait_ready()
    assert process.stop() == 0


def _post(server: RestServer, path: str, body: object) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body)
    return requests.post(f"{server.url}{path}", data=data, timeout=30)


@pytest.mark.robustness(
    "REST malformed paths (GET on :predict, POST on /metadata, bad versions, labels with versions)",
    "400 Malformed request with the expected forms",
)
@pytest.mark.parametrize(
    ("method", "path", "fragment"),
    [
        ("GET", "/v1/models/scale:predict", "GET /v1/models/scale:predict"),
        ("POST", "/v1/models/scale/metadata", "POST /v1/models/scale/metadata"),
        ("POST", "/v1/models/scale", "POST /v1/models/scale"),
        ("GET", "/v1/models/scale/versions/abc", "/versions/abc"),
        ("POST", "/v1/models/scale/versions/abc:predict", "/versions/abc:predict"),
        ("GET", "/v1/models/scale/versions/1/labels/stable", "/versions/1/labels/stable"),
        ("POST", "/v1/models/scale/versions/1/labels/stable:predict", "/labels/stable:predict"),
        ("GET", "/v1/models/scale/versions/-1", "/versions/-1"),
        ("GET", "/v1/models/scale/other", "/v1/models/scale/other"),
        ("GET", "/v1/models/scale/metadata/extra", "/metadata/extra"),
        ("GET", "/v1/something", "/v1/something"),
    ],
)
def test_malformed_paths_are_400(server, method, path, fragment):
    response = requests.request(method, f"{server.url}{path}", data=b"{}", timeout=10)
    assert_error(response, 400, "Malformed request", fragment, "expected GET /v1/models/{name}")


def test_version_out_of_int64_range_is_malformed(server):
    response = requests.get(f"{server.url}/v1/models/scale/versions/99999999999999999999", timeout=10)
    assert_error(response, 400, "Malformed request", "99999999999999999999", "64-bit")


def test_missing_model_name_is_400(server):
    assert_error(requests.get(f"{server.url}/v1/models", timeout=10), 400, "Missing model name")


@pytest.mark.robustness(
    "REST wrong HTTP methods",
    "405 with Allow",
)
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405(server, method):
    response = requests.request(method, f"{server.url}/v1/models/scale:predict", timeout=10)
    assert_error(response, 405, "Method Not Allowed", f"{method} /v1/models/scale:predict")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_paths_outside_the_api_are_404(server):
    assert_error(requests.get(f"{server.url}/", timeout=10), 404, "Not Found", "GET /")
    assert_error(requests.get(f"{server.url}/models/scale", timeout=10), 404, "Not found", "/models/scale")


def test_unknown_labels_are_400_and_classify_and_regress_need_examples(server):
    """An unknown label: TF Serving's INVALID_ARGUMENT (server_core.cc GetModelVersionForLabel);
    a classify/regress body without "examples": json_tensor.cc's words."""
    label = requests.get(f"{server.url}/v1/models/scale/labels/stable", timeout=10)
    assert_error(label, 400, "Unrecognized servable version label: stable")
    for verb in ("classify", "regress"):
        assert_error(
            _post(server, f"/v1/models/scale:{verb}", {}), 400, f"When method is {verb}, key 'examples' is expected"
        )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/models/nope"),
        ("GET", "/v1/models/nope/metadata"),
        ("POST", "/v1/models/nope:predict"),
        ("GET", "/v1/models/scale/versions/7"),
        ("GET", "/v1/models/scale/versions/7/metadata"),
        ("POST", "/v1/models/scale/versions/7:predict"),
    ],
)
def test_unknown_model_or_version_is_404(server, method, path):
    response = requests.request(method, f"{server.url}{path}", json={"inputs": [[1, 2, 3, 4]]}, timeout=10)
    assert_error(response, 404, "Servable not found for request")


def test_version_that_failed_to_load_is_404_and_reported_in_status(server):
    """As TF Serving: a version that is not AVAILABLE is not found (core/basic_manager.cc)."""
    predict = _post(server, "/v1/models/scale/versions/2:predict", {"inputs": [[1, 2, 3, 4]]})
    assert_error(predict, 404, "Servable not found for request: Specific(scale, 2)")
    metadata = requests.get(f"{server.url}/v1/models/scale/versions/2/metadata", timeout=10)
    assert_error(metadata, 404, "Servable not found for request: Specific(scale, 2)")
    status = requests.get(f"{server.url}/v1/models/scale/versions/2", timeout=10)
    assert status.status_code == 200
    (entry,) = status.json()["model_version_status"]
    assert entry["version"] == "2" and entry["state"] == "END"
    assert entry["status"]["error_code"] == "UNKNOWN" and "cannot read" in entry["status"]["error_message"]


@pytest.mark.robustness(
    "REST bodies: malformed JSON, ragged lists, strings, b64, wrong structure",
    "400 naming what was expected and what came",
)
@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (b"", ["JSON Parse error", "empty"]),
        (b"{not json", ["JSON Parse error"]),
        (b'{"inputs": [1, 2,]}', ["JSON Parse error"]),
        (b"[1, 2]", ["expected a JSON object", "a list of 2 items"]),
        (b'"text"', ["expected a JSON object", "the string 'text'"]),
        (b'{"instances": [[1]], "inputs": [[1]]}', ["only one of", "got both"]),
        (b'{"input": [[1, 2, 3, 4]]}', ["missing 'inputs' or 'instances'", "['input']"]),
        (b'{"instances": {"x": [1, 2, 3, 4]}}', ["'instances' must be a list", "an object"]),
        (b'{"instances": []}', ["'instances' is an empty list"]),
        (b'{"inputs": [[1, 2, 3, 4]], "signature_name": 5}', ["'signature_name' must be a string"]),
        (b'{"inputs": {"y": [[1, 2, 3, 4]]}}', ["unknown input(s) ['y']", "expected inputs: ['x']"]),
        (b'{"inputs": [[1, 2, 3]]}', ["input 'x' expects shape [-1, 4]", "got [1, 3]"]),
        (b'{"inputs": [[1, 2, 3, 4], [1, 2]]}', ["input 'x'", "ragged"]),
        (b'{"instances": [[1, 2, 3, 4], [1, 2]]}', ["input 'x'", "ragged"]),
        (b'{"inputs": [[1, 2, 3, [4]]]}', ["input 'x'", "ragged"]),
        (b'{"inputs": ' + b"[" * 40 + b"true" + b"]" * 40 + b"}", ["input 'x'", "nests lists 40 deep"]),
        (b'{"inputs": [[{"b64": "AAEC"}]]}', ["expects DT_FLOAT of shape [-1, 4]", "encoded images (JPEG, PNG)"]),
        (b'{"instances": [{"b64": "AAEC"}]}', ["expects DT_FLOAT of shape [-1, 4]", "accepted only by numeric inputs"]),
        (b'{"instances": [{"b64": "A*EC"}]}', ["input 'x'", "is not valid base64"]),
        (b'{"inputs": [["a", "b", "c", "d"]]}', ["expects DT_FLOAT numbers", "the string 'a'"]),
        (b'{"inputs": [[1, null, 3, 4]]}', ["expects DT_FLOAT numbers", "null"]),
        (b'{"inputs": [[true, false, true, true]]}', ["expects DT_FLOAT", "true/false"]),
        (b'{"inputs": [[1, 2, 3, true]]}', ["expects DT_FLOAT", "true/false mixed with numbers"]),
        (b'{"inputs": [[1e300, 2, 3, 4]]}', ["1e+300", "outside the range of DT_FLOAT"]),
    ],
)
def test_bad_predict_bodies_are_400(server, body, fragments):
    assert_error(_post(server, "/v1/models/scale/versions/1:predict", body), 400, *fragments)


@pytest.mark.robustness(
    "REST inputs of the wrong name, dtype or shape",
    "400 naming what was expected and what came",
)
@pytest.mark.parametrize(
    ("model", "body", "fragments"),
    [
        ("int8", {"inputs": [[1.5, 2, 3]]}, ["expects DT_INT8", "1.5", "not an integer"]),
        ("int8", {"inputs": [[300, 2, 3]]}, ["expects DT_INT8", "300", "range [-128, 127]"]),
        ("int8", {"inputs": [[1, 2, 3]], "signature_name": "other"}, ['signature key "other" not found']),
        ("bool", {"inputs": [[1, 0, 1]]}, ["expects DT_BOOL", "true/false", "got JSON integers"]),
        ("float32", {"inputs": [[10**39, 1, 2]]}, []),
        ("multi", {"inputs": [[1, 2, 3]]}, ["plain value", "3 inputs", "['a', 'b', 'c']"]),
        ("multi", {"instances": [[1, 2, 3]]}, ["plain list", "3 inputs", "objects keyed by input name"]),
        ("multi", {"inputs": {"a": [[1, 2, 3]], "b": [[1, 2, 3]]}}, ["missing input(s) ['c']"]),
        (
            "multi",
            {"instances": [{"a": [1, 2, 3], "b": [1, 2, 3], "c": [1, 2]}, {"a": [1, 2, 3], "b": [1, 2, 3]}]},
            ["item 1 of 'instances' names inputs ['a', 'b']", "same batch size"],
        ),
        (
            "multi",
            {"instances": [{"a": [1, 2, 3], "b": [1, 2, 3], "c": [1, 2]}, [1, 2, 3]]},
            ["expected an object at item 1 of 'instances'"],
        ),
        (
            "multi",
            {"instances": [{"a": [1, 2, 3], "b": [1, 2, 3], "c": [1, 2]}]},
            ["input 'c' expects shape [2]", "got [1, 2]"],
        ),
    ],
)
def test_inputs_not_fitting_the_model_are_400(server, model, body, fragments):
    response = _post(server, f"/v1/models/{model}:predict", body)
    if not fragments:  # a number too big for 64 bits arrives as a float; float32 cannot hold it
        assert_error(response, 400, "outside the range of DT_FLOAT")
        return
    assert_error(response, 400, *fragments)


@pytest.mark.robustness(
    "REST body over --rest_max_body_mb",
    "413 before the body is read whole",
)
def test_body_over_the_limit_is_413(server):
    big = b'{"inputs": [' + b"1.0," * (MB // 4) + b"1.0]}"
    assert_error(_post(server, "/v1/models/scale:predict", big), 413, "too large", str(MB), "--rest_max_body_mb")
    chunked = requests.post(f"{server.url}/v1/models/scale:predict", data=iter([big[:1000], big[1000:]]), timeout=30)
    assert_error(chunked, 413, "too large", "--rest_max_body_mb")


def test_server_still_answers_after_the_errors(server):
    response = _post(server, "/v1/models/scale:predict", {"instances": [[1, 2, 3, 4]]})
    assert response.json() == {"predictions": [[2.0, 4.0, 6.0, 8.0]]}
    assert "Traceback" not in server.log()
