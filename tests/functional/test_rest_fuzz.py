"""Random and malformed JSON bodies and paths against a live server: every answer is a
well-formed JSON reply (never a 5xx), and the server still predicts correctly afterwards."""

from __future__ import annotations

import json
import urllib.parse

import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import models
from tests.rest_helpers import RestServer, write_config

MODELS = ["scale", "multi", "int8", "bool", "dynamic"]

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=False
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    models.save(models.scale_model(2.0), root / "scale")
    models.save(models.multi_io_model(), root / "multi")
    models.save(models.dtype_model(np.int8), root / "int8")
    models.save(models.dtype_model(np.bool_), root / "bool")
    models.save(models.dynamic_model(), root / "dynamic")
    config = write_config(root / "config.json", [{"name": n, "base_path": str(root / n)} for n in MODELS])
    process = RestServer(["config", "--config_path", str(config)], tmp_path_factory.mktemp("log") / "server.log")
    yield process.wait_ready()
    assert process.stop() == 0


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.sampled_from(["x", "a", "b", "c", "b64", "y"]), inner, max_size=3),
    ),
    max_leaves=30,
)
tensors = st.integers(1, 3).flatmap(
    lambda rows: st.lists(
        st.lists(st.one_of(st.integers(-200, 200), st.floats(-1e3, 1e3), st.booleans()), min_size=2, max_size=4),
        min_size=rows,
        max_size=rows,
    )
)
bodies = st.one_of(
    values,
    st.fixed_dictionaries({"instances": st.one_of(values, tensors)}),
    st.fixed_dictionaries({"inputs": st.one_of(values, tensors)}),
    st.fixed_dictionaries(
        {"inputs": st.dictionaries(st.sampled_from(["a", "b", "c", "x"]), st.one_of(values, tensors), max_size=3)}
    ),
    st.fixed_dictionaries({"instances": tensors, "signature_name": values}),
)
raw_bodies = st.one_of(
    bodies.map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=64),
    bodies.map(lambda b: json.dumps(b).encode()[: len(json.dumps(b)) // 2]),
    st.sampled_from([b"NaN", b"[Infinity]", b'{"inputs": [[NaN, 1]]}', b"[" * 5000 + b"]" * 5000, b"{" * 3000]),
)
segments = st.one_of(
    st.sampled_from(["v1", "V1", "models", "versions", "labels", "metadata", "1", "0", "-1", "999", ""]),
    st.sampled_from(MODELS),
    st.text(max_size=8).map(lambda t: urllib.parse.quote(t, safe="")),
    st.sampled_from([":predict", ":classify", ":", "%2F", "%00", ".."]),
)
paths = st.lists(segments, min_size=0, max_size=6).map(lambda parts: "/" + "/".join(parts))
verbs = st.sampled_from(["", ":predict", ":regress", "/metadata", ":PREDICT"])


def _check(response: requests.Response) -> None:
    """A JSON answer: a result, or TF Serving's error object with a client-error status."""
    assert response.status_code < 500 or response.status_code == 501, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json", response.text
    body = json.loads(response.text)
    if response.status_code >= 400:
        assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body


@pytest.mark.robustness(
    "REST fuzz: random JSON bodies (hypothesis)",
    "a well-formed 4xx JSON error or a correct answer; never 5xx",
    cases=150,
)
@FUZZ
@given(model=st.sampled_from(MODELS), body=raw_bodies)
def test_random_bodies_get_json_answers(server, model, body):
    _check(requests.post(f"{server.url}/v1/models/{model}:predict", data=body, timeout=30))


@pytest.mark.robustness(
    "REST fuzz: random paths, methods and verbs (hypothesis)",
    "a well-formed 4xx JSON error; never 5xx",
    cases=150,
)
@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=paths,
    verb=verbs,
    body=st.one_of(st.just(b""), raw_bodies),
)
def test_random_paths_get_json_answers(server, method, path, verb, body):
    _check(requests.request(method, f"{server.url}{path}{verb}", data=body, timeout=30))


def test_server_still_predicts_after_fuzzing(server):
    response = requests.post(f"{server.url}/v1/models/scale:predict", json={"instances": [[1, 2, 3, 4]]}, timeout=10)
    assert response.json() == {"predictions": [[2.0, 4.0, 6.0, 8.0]]}
    multi = {"inputs": {"a": [[1, 2, 3]], "b": [[1, 1, 1]], "c": [1, 2]}}
    outputs = requests.post(f"{server.url}/v1/models/multi:predict", json=multi, timeout=10).json()["outputs"]
    assert outputs == {"sum": [[2.0, 3.0, 4.0]], "prod": [[1.0, 2.0, 3.0]], "c2": [2, 4]}
    assert "Traceback" not in server.log() and "unexpected error" not in server.log()
