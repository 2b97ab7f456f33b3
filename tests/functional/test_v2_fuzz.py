"""Random v2 inference requests against a live server, as tests/functional/test_rest_fuzz.py
does for TF Serving's REST API (same models, same reference: OpenVINO's own result):

- well-formed requests, each input sent as JSON data (flat or nested) or as binary tensor data
  and each output asked as JSON or binary, in random order: 200 with OpenVINO's outputs;
- the same requests broken one way (a binary input's size off, the header length past the body
  or not a number, the body cut short, a datatype or shape that does not fit the data): 400
  naming the problem;
- random JSON values and random bytes as the body, with and without the header: a JSON
  {"error"} with a 4xx status, never a 5xx;

and the server still answers correctly afterwards. The framing is Triton's
(docs/protocol/extension_binary_data.md), the body the spec's
(kserve/open-inference-protocol specification/protocol/inference_rest.md).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
from hypothesis import given
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

HEADER = "Inference-Header-Content-Length"
V2_NAME = {F32: "FP32", I8: "INT8", I64: "INT64", BOOL: "BOOL"}


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


@st.composite
def requests_v2(draw) -> tuple[str, dict[str, np.ndarray], dict, bytes, list[tuple[str, bool]]]:
    """A model, its inputs, the JSON request, the binary part and the outputs asked (name, binary)."""
    model = draw(st.sampled_from(MODELS))
    batch, width = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    arrays, tensors, binary = {}, [], b""
    names = list(SERVED[model][0])
    for name in draw(st.permutations(names)):
        dtype, shape = SERVED[model][0][name]
        dims = [batch if i == 0 and d == -1 else width if d == -1 else d for i, d in enumerate(shape)]
        count = int(np.prod(dims))
        array = np.array(draw(st.lists(LEAVES[dtype], min_size=count, max_size=count)), dtype=dtype).reshape(dims)
        arrays[name] = array
        tensor = {"name": name, "shape": dims, "datatype": V2_NAME[dtype]}
        if draw(st.booleans()):
            raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
            tensor["parameters"] = {"binary_data_size": len(raw)}
            binary += raw
        else:
            tensor["data"] = array.tolist() if draw(st.booleans()) else array.ravel().tolist()
        tensors.append(tensor)
    document: dict = {"inputs": tensors}
    asked = [(n, draw(st.booleans())) for n in draw(st.permutations(list(SERVED[model][1])))]
    if draw(st.booleans()):
        document["outputs"] = [{"name": n, "parameters": {"binary_data": b}} for n, b in asked]
    else:  # all outputs, as JSON, in the model's order
        asked = [(n, False) for n in SERVED[model][1]]
    if draw(st.booleans()):
        document["id"] = draw(st.text(max_size=8))
    return model, arrays, document, binary, asked


def _outputs(response: requests.Response) -> tuple[dict, dict[str, np.ndarray]]:
    """The response's JSON and its outputs, binary ones cut from after the JSON as the
    extension lays them out (in output order, each binary_data_size bytes)."""
    body = response.content
    length = int(response.headers.get(HEADER, len(body)))
    document = json.loads(body[:length])
    offset, arrays = length, {}
    for output in document["outputs"]:
        dtype = {v: k for k, v in V2_NAME.items()}[output["datatype"]]
        size = output.get("parameters", {}).get("binary_data_size")
        if size is None:
            arrays[output["name"]] = np.array(output["data"], dtype=dtype).reshape(output["shape"])
        else:
            raw = body[offset : offset + size]
            offset += size
            arrays[output["name"]] = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).reshape(output["shape"])
    assert offset == len(body), (offset, len(body))
    return document, arrays


@FUZZ
@given(requests_v2())
def test_well_formed_requests_answer_openvinos_outputs(server, reference, request):
    model, arrays, document, binary, asked = request
    header = json.dumps(document).encode()
    headers = {HEADER: str(len(header))} if binary else {}
    response = requests.post(f"{server.url}/v2/models/{model}/infer", data=header + binary, headers=headers, timeout=30)
    assert response.status_code == 200, (response.status_code, response.text[:300], document)
    answer, outputs = _outputs(response)
    assert answer["model_name"] == model and answer["model_version"] == "1"
    assert answer.get("id", "") == document.get("id", "")
    assert [o["name"] for o in answer["outputs"]] == [n for n, _ in asked]
    for output, (_, as_binary) in zip(answer["outputs"], asked, strict=True):
        assert ("binary_data_size" in output.get("parameters", {})) == as_binary, output
    expected = reference(model, arrays)
    for name, _ in asked:
        if outputs[name].dtype == F32:
            np.testing.assert_allclose(outputs[name], expected[name], rtol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(outputs[name], expected[name], err_msg=name)


BREAKS = ["size", "header_past", "header_text", "cut", "datatype", "shape"]


@FUZZ
@given(requests_v2(), st.sampled_from(BREAKS), st.integers(1, 9))
def test_broken_framing_and_bodies_are_400s(server, request, how, amount):
    model, _, document, binary, _ = request
    header = json.dumps(document).encode()
    binary_inputs = [t for t in document["inputs"] if "parameters" in t]
    length = str(len(header))
    body = header + binary
    first = document["inputs"][0]
    if how == "size" and binary_inputs:
        binary_inputs[0]["parameters"]["binary_data_size"] += amount * (1 if amount % 2 else -1)
        header = json.dumps(document).encode()
        body, length = header + binary, str(len(header))
    elif how == "header_past":
        length = str(len(body) + amount)
    elif how == "header_text":
        length = ["-1", "1e3", "0x10", "12.0", "ten"][amount % 5]
    elif how == "cut":
        body = body[: max(0, len(body) - amount)] if binary else header[: len(header) // 2]
    elif how == "datatype":
        first["datatype"] = {"FP32": "INT8", "INT8": "FP64", "INT64": "BYTES", "BOOL": "FP16"}[first["datatype"]]
        header = json.dumps(document).encode()
        body, length = header + binary, str(len(header))
    else:  # "shape", or "size" with no binary input: a shape whose element count is not the data's
        first["shape"] = [*first["shape"][:-1], first["shape"][-1] + amount]
        header = json.dumps(document).encode()
        body, length = header + binary, str(len(header))
    headers = {HEADER: length} if binary or how.startswith("header") else {}
    response = requests.post(f"{server.url}/v2/models/{model}/infer", data=body, headers=headers, timeout=30)
    assert response.status_code == 400, (how, response.status_code, response.text[:300])
    error = response.json()
    assert set(error) == {"error"} and error["error"], error


# printable header values: gunicorn refuses control characters in a header itself, before the
# app, with its own 400 page
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=4)


def _zero(length: str | None) -> bool:
    """A header value of 0: Triton's raw binary request (the body is one input's bytes), not a
    malformed body."""
    try:
        return length is not None and int(length) == 0
    except ValueError:
        return False


@FUZZ
@given(
    st.sampled_from(MODELS),
    st.one_of(values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=96)),
    st.one_of(st.none(), st.integers(-5, 200).map(str), _HEADER_TEXT).filter(lambda t: not _zero(t)),
)
def test_random_bodies_are_refused_with_a_json_error(server, model, body, length):
    headers = {} if length is None else {HEADER: length}
    try:
        response = requests.post(f"{server.url}/v2/models/{model}/infer", data=body, headers=headers, timeout=30)
    except ValueError:  # requests refuses a header value with a newline: nothing was sent
        return
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300], body[:100])
    error = response.json()
    assert set(error) == {"error"} and isinstance(error["error"], str), error


def test_the_server_still_answers_after_the_fuzz(server):
    answer = requests.post(
        f"{server.url}/v2/models/scale/infer",
        json={"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["outputs"][0]["data"] == [2.0, 4.0, 6.0, 8.0]
