"""Random and malformed JSON bodies and paths against a live server: every answer is a
well-formed JSON reply (never a 5xx); every 200 is checked against what the request asked
(predictions against the outputs computed here with numpy for the inputs the test reads from
the body itself, status and metadata against the served models), and the server still
predicts correctly afterwards."""

from __future__ import annotations

import json
import re
import urllib.parse

import numpy as np
import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz_models import (
    BOOL,
    F32,
    FUZZ,
    I8,
    I64,
    LEAVES,
    MODELS,
    SERVED,
    openvino_reference,
    save_models,
    start_server,
    values,
)

TF_DTYPE = {F32: "DT_FLOAT", I8: "DT_INT8", I64: "DT_INT64", BOOL: "DT_BOOL"}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return save_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def reference(root):
    return openvino_reference(root)


@pytest.fixture(scope="module")
def server(root, tmp_path_factory):
    process = start_server(root, tmp_path_factory.mktemp("log"))
    yield process
    assert process.stop() == 0


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


@st.composite
def well_formed(draw) -> tuple[str, bytes]:
    """A model and a body it must answer with 200: random values of each input's dtype and a
    random batch (and width, for the dynamic model), in the row or the column format."""
    model = draw(st.sampled_from(MODELS))
    batch, width = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    inputs = {}
    for name, (dtype, shape) in SERVED[model][0].items():
        dims = [batch if i == 0 and d == -1 else width if d == -1 else d for i, d in enumerate(shape)]
        count = int(np.prod(dims))
        values = draw(st.lists(LEAVES[dtype], min_size=count, max_size=count))
        inputs[name] = np.array(values, dtype=dtype).reshape(dims).tolist()
    batched = all(shape[0] == -1 for _, shape in SERVED[model][0].values())
    if batched and draw(st.booleans()):
        if len(inputs) == 1 and draw(st.booleans()):
            body = {"instances": next(iter(inputs.values()))}
        else:
            body = {"instances": [{name: value[row] for name, value in inputs.items()} for row in range(batch)]}
    elif len(inputs) == 1 and draw(st.booleans()):
        body = {"inputs": next(iter(inputs.values()))}
    else:
        body = {"inputs": inputs}
    if draw(st.booleans()):
        body["signature_name"] = "serving_default"
    return model, json.dumps(body).encode()


class Refused(Exception):
    """The request is not one the server may answer with 200."""


def _leaves(value) -> list:
    return [leaf for item in value for leaf in _leaves(item)] if isinstance(value, list) else [value]


def reference_array(value, dtype: np.dtype, shape: list[int]) -> np.ndarray:
    """The JSON value as the input's dtype, read here: numbers (not true/false) for numeric
    inputs, true/false for bool, a regular nesting of the input's rank and static sizes."""
    leaves = _leaves(value)
    if dtype == BOOL:
        ok = all(isinstance(v, bool) for v in leaves)
    elif dtype == F32:
        ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in leaves)
    else:
        ok = all(isinstance(v, int) and not isinstance(v, bool) for v in leaves)
        info = np.iinfo(dtype)
        ok = ok and all(info.min <= v <= info.max for v in leaves)
    if not ok:
        raise Refused(f"values {leaves[:5]} for {dtype}")
    try:
        array = np.array(value, dtype=np.float64 if dtype == F32 else dtype)
    except (ValueError, OverflowError) as why:
        raise Refused(str(why)) from None
    if array.ndim != len(shape) or any(want not in (-1, got) for want, got in zip(shape, array.shape, strict=True)):
        raise Refused(f"shape {array.shape} for {shape}")
    return array.astype(dtype)


def reference_inputs(model: str, body) -> tuple[dict[str, np.ndarray], bool]:
    """The inputs the body carries for the model, and whether it is the row format."""
    specs = SERVED[model][0]
    if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
        raise Refused("not one of instances or inputs")
    if body.get("signature_name") not in (None, "serving_default"):
        raise Refused(f"signature_name {body['signature_name']!r}")
    rows = "instances" in body
    given = body["instances" if rows else "inputs"]
    if rows and isinstance(given, list) and given and all(isinstance(row, dict) for row in given):
        names = set(given[0])
        if any(set(row) != names for row in given):
            raise Refused("instances name different inputs")
        columns = {name: [row[name] for row in given] for name in names}
    elif not rows and isinstance(given, dict):
        columns = given
    elif len(specs) == 1:
        columns = {next(iter(specs)): given}
    else:
        raise Refused("unnamed values for a model of several inputs")
    if set(columns) != set(specs):
        raise Refused(f"inputs {sorted(columns)}")
    return {name: reference_array(columns[name], *specs[name]) for name in specs}, rows


def check_predict_answer(reference, model: str, sent: bytes, answer: dict) -> None:
    """A 200 predict answer holds OpenVINO's own outputs for the inputs the body carried."""
    try:
        inputs, rows = reference_inputs(model, json.loads(sent))
    except (Refused, ValueError) as why:
        raise AssertionError(f"200 for a body the server must refuse ({why}): {sent[:300]!r} -> {answer}") from None
    outputs = SERVED[model][1]
    expected = reference(model, inputs)
    key = "predictions" if rows else "outputs"
    assert set(answer) == {key}, answer
    if len(outputs) == 1:
        got = {next(iter(outputs)): answer[key]}
    elif rows:
        got = {name: [row[name] for row in answer[key]] for name in outputs}
    else:
        got = answer[key]
    assert set(got) == set(outputs), answer
    for name, (dtype, _) in outputs.items():
        array = np.array(got[name], dtype=dtype)
        assert array.shape == expected[name].shape, (name, array.shape, expected[name].shape)
        if dtype == F32:
            np.testing.assert_allclose(array, expected[name], rtol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(array, expected[name], err_msg=name)


def check_get_answer(path: str, answer: dict) -> None:
    """A 200 GET answer: the status or the metadata of a served model's version 1."""
    match = re.fullmatch(r"(?i)/v1/models/([^/:]+)(/versions/0*1|/labels/[^/:]+)?(/metadata)?", path)
    assert match and urllib.parse.unquote(match[1]) in SERVED, (path, answer)
    model = urllib.parse.unquote(match[1])
    if match[3]:
        assert answer["model_spec"] == {"name": model, "signature_name": "", "version": "1"}, answer
        signature = answer["metadata"]["signature_def"]["signature_def"]["serving_default"]
        inputs, outputs, _ = SERVED[model]
        for got, specs in ((signature["inputs"], inputs), (signature["outputs"], outputs)):
            assert {n: (t["dtype"], [int(d["size"]) for d in t["tensor_shape"]["dim"]]) for n, t in got.items()} == {
                n: (TF_DTYPE[dtype], shape) for n, (dtype, shape) in specs.items()
            }, signature
    else:
        ok = {"error_code": "OK", "error_message": ""}
        assert answer == {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": ok}]}, answer


def _check(response: requests.Response, reference) -> None:
    """A JSON answer: a result checked against the request, or TF Serving's error object with a
    client-error status."""
    assert response.status_code < 500 or response.status_code == 501, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json", response.text
    body = json.loads(response.text)
    if response.status_code >= 400:
        assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
        return
    assert response.status_code == 200, (response.status_code, response.text)
    path = urllib.parse.urlsplit(response.request.url).path
    predict = re.fullmatch(r"(?i)/v1/models/([^/:]+)(?:/versions/0*1|/labels/[^/:]+)?:predict", path)
    if predict and response.request.method == "POST":
        model = urllib.parse.unquote(predict[1])
        assert model in SERVED, (path, body)
        check_predict_answer(reference, model, response.request.body or b"", body)
    else:
        assert response.request.method == "GET", (response.request.method, path, body)
        check_get_answer(path, body)


@pytest.mark.robustness(
    "REST fuzz: random JSON bodies (hypothesis)",
    "a well-formed 4xx JSON error, or 200 with OpenVINO's own result for the body's values; never 5xx",
)
@FUZZ
@given(model=st.sampled_from(MODELS), body=raw_bodies)
# Accepted ones, so every run checks answers of each format and model.
@example(model="scale", body=b'{"instances": [[1, 2.5, -3, 4e3]], "signature_name": "serving_default"}')
@example(model="multi", body=b'{"inputs": {"a": [[1, 2, 3]], "b": [[0.5, 1, -1]], "c": [7, -8]}}')
@example(model="int8", body=b'{"instances": [{"x": [127, -128, 0]}, {"x": [1, 2, 3]}]}')
@example(model="bool", body=b'{"inputs": [[true, false, true]]}')
@example(model="dynamic", body=b'{"inputs": {"x": [[1, 2], [3, 4.5]]}}')
def test_random_bodies_get_json_answers(server, reference, robustness_cases, model, body):
    robustness_cases.count()
    _check(requests.post(f"{server.url}/v1/models/{model}:predict", data=body, timeout=30), reference)


@pytest.mark.robustness(
    "REST fuzz: random paths, methods and verbs (hypothesis)",
    "a well-formed 4xx JSON error, or 200 with the model's status, metadata or result; never 5xx",
)
@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=paths,
    verb=verbs,
    body=st.one_of(st.just(b""), raw_bodies),
)
def test_random_paths_get_json_answers(server, reference, robustness_cases, method, path, verb, body):
    robustness_cases.count()
    _check(requests.request(method, f"{server.url}{path}{verb}", data=body, timeout=30), reference)


@pytest.mark.robustness(
    "REST fuzz: well-formed bodies with random values, batches and formats (hypothesis)",
    "200 with OpenVINO's own result for the values sent",
)
@FUZZ
@given(request=well_formed())
def test_well_formed_bodies_get_openvinos_result(server, reference, robustness_cases, request):
    robustness_cases.count()
    model, body = request
    response = requests.post(f"{server.url}/v1/models/{model}:predict", data=body, timeout=30)
    assert response.status_code == 200, (response.status_code, response.text, body[:300])
    _check(response, reference)


def test_server_still_predicts_after_fuzzing(server):
    response = requests.post(f"{server.url}/v1/models/scale:predict", json={"instances": [[1, 2, 3, 4]]}, timeout=10)
    assert response.json() == {"predictions": [[2.0, 4.0, 6.0, 8.0]]}
    multi = {"inputs": {"a": [[1, 2, 3]], "b": [[1, 1, 1]], "c": [1, 2]}}
    outputs = requests.post(f"{server.url}/v1/models/multi:predict", json=multi, timeout=10).json()["outputs"]
    assert outputs == {"sum": [[2.0, 3.0, 4.0]], "prod": [[1.0, 2.0, 3.0]], "c2": [2, 4]}
    assert "Traceback" not in server.log() and "unexpected error" not in server.log()
