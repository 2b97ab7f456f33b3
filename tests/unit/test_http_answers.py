"""Every HTTP failure answers through the one errors table and is logged once with its true
status and time: the TF Serving REST app and the SageMaker app, driven with Flask's test
client over stand-in model versions (tests/stub_versions.py; no compilation).

SageMaker's container answers {"error": ...} JSON (AWS's sagemaker-tensorflow-serving-container,
container/build_artifacts/sagemaker/python_service.py) and 503 on overload; TF Serving's REST
handler answers {"error": ...} with the HTTP status of the gRPC code
(tensorflow_serving/model_servers/http_rest_api_handler.cc)."""

from __future__ import annotations

import io
import logging
import time

import numpy as np
import orjson
import pytest

from ie_serving.errors import Overloaded
from ie_serving.http_common import deadline
from ie_serving.rest_api import create_app
from ie_serving.service import Service
from serve.custom_code import CustomCode
from serve.routes import create_sagemaker_app
from tests.stub_versions import Scale, served, store_of


def _sagemaker(failure=None, code=None, max_body_mb=1):
    service = Service(store_of("m", served(1, Scale(2.0, failure))))
    return create_sagemaker_app(service, max_body_mb, "m", code, (8080, 9000)).test_client()


def _lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ie_serving.service" and r.levelno == logging.DEBUG]


@pytest.fixture(autouse=True)
def _debug(caplog):
    caplog.set_level(logging.DEBUG, logger="ie_serving.service")


def test_invocations_answer_and_log_the_true_outcome(caplog):
    client = _sagemaker()
    ok = client.post("/invocations", data=orjson.dumps([[1.0, 2.0]]), content_type="application/json")
    assert ok.status_code == 200 and orjson.loads(ok.data) == {"predictions": [[2.0, 4.0]]}
    too_large = client.post("/invocations", data=b"[" + b"1," * 600_000 + b"1]", content_type="application/json")
    assert too_large.status_code == 413
    assert "SAGEMAKER_MAX_PAYLOAD_IN_MB" in orjson.loads(too_large.data)["error"]
    media = client.post("/invocations", data=b"x", content_type="image/gif")
    assert media.status_code == 415 and "Content-Type 'image/gif'" in orjson.loads(media.data)["error"]
    accept = client.post("/invocations", data=b"[[1, 2]]", content_type="application/json", headers={"Accept": "a/b"})
    assert accept.status_code == 406
    statuses = [line.split(" status=")[1].split(" ")[0] for line in _lines(caplog)]
    assert statuses == ["OK", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "NOT_ACCEPTABLE"]
    assert all(float(line.split("time=")[1].split(" ")[0]) > 0 for line in _lines(caplog))


def test_overload_is_503_on_invocations_and_429_on_tf_serving_rest():
    client = _sagemaker(failure=Overloaded("busy"))
    assert client.post("/invocations", data=b"[[1, 2]]", content_type="application/json").status_code == 503
    assert client.post("/v1/models/m:predict", data=b'{"instances": [[1, 2]]}').status_code == 429


def test_an_unexpected_exception_is_500_naming_it_without_tf_serving_url_help(caplog):
    client = _sagemaker(failure=KeyError("bug"))
    answer = client.post("/invocations", data=b"[[1, 2]]", content_type="application/json")
    assert answer.status_code == 500
    assert orjson.loads(answer.data) == {"error": "internal error: KeyError: 'bug'"}
    assert "status=INTERNAL" in _lines(caplog)[-1]


def test_a_custom_handler_that_raises_is_500_and_logged_as_such(caplog):
    def handler(data, context):
        raise RuntimeError("handler broke")

    answer = _sagemaker(code=CustomCode(handler=handler)).post("/invocations", data=b"[[1, 2]]")
    assert answer.status_code == 500 and orjson.loads(answer.data) == {"error": "RuntimeError: handler broke"}
    assert "sagemaker Invocations model=m version=latest status=INTERNAL" in _lines(caplog)[-1]


def test_an_output_handler_receives_the_models_failure_as_its_answer():
    def output_handler(answer, context):
        return orjson.dumps({"seen": answer.status_code, "error": answer.json()["error"]}), "application/json"

    client = _sagemaker(code=CustomCode(output_handler=output_handler))
    answer = client.post("/invocations", data=b"[[1, 2, 3]]", content_type="application/json")
    assert answer.status_code == 200
    body = orjson.loads(answer.data)
    assert body["seen"] == 400 and "expects shape [-1, 2]" in body["error"]


@pytest.mark.parametrize("app", ["rest", "sagemaker"])
def test_routing_refusals_are_json_from_the_table_and_logged_with_their_time(app, caplog):
    if app == "rest":
        client = create_app(Service(store_of("m", served(1, Scale(2.0)))), 1).test_client()
    else:
        client = _sagemaker()
    missing = client.get("/")
    assert missing.status_code == 404 and orjson.loads(missing.data)["error"].startswith("Not Found: GET /;")
    wrong = client.put("/v1/models/m:predict", data=b"{}")
    assert wrong.status_code == 405 and set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert orjson.loads(wrong.data)["error"].startswith("Method Not Allowed: PUT /v1/models/m:predict;")
    lines = _lines(caplog)
    assert [line.split(" status=")[1].split(" ")[0] for line in lines] == ["NOT_FOUND", "METHOD_NOT_ALLOWED"]
    if app == "sagemaker":
        assert "GET /ping, POST /invocations" in orjson.loads(missing.data)["error"]


def test_npy_bodies_are_read_without_pickles():
    body = io.BytesIO()
    np.save(body, np.array([[1.0, 2.0]], np.float32))
    answer = _sagemaker().post("/invocations", data=body.getvalue(), content_type="application/x-npy")
    assert answer.status_code == 200 and orjson.loads(answer.data) == {"predictions": [[2.0, 4.0]]}
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    refused = _sagemaker().post("/invocations", data=pickled.getvalue(), content_type="application/x-npy")
    assert refused.status_code == 400 and "(pickles), which are refused" in orjson.loads(refused.data)["error"]


def test_an_npy_body_is_served_without_a_copy_and_truncated_data_is_refused():
    """The array handed to the pipeline is a view of the request body (a gigabyte body is not
    copied again), and a body shorter than its header declares is a 400 naming both sizes."""
    from serve.content import _load_npy

    body = io.BytesIO()
    np.save(body, np.arange(12, dtype=np.float32).reshape(3, 4))
    data = body.getvalue()
    array = _load_npy(data)
    assert not array.flags.owndata and array.base is not None and np.shares_memory(array, np.frombuffer(data, np.uint8))
    np.testing.assert_array_equal(array, np.arange(12, dtype=np.float32).reshape(3, 4))
    refused = _sagemaker().post("/invocations", data=data[:-4], content_type="application/x-npy")
    assert refused.status_code == 400
    assert "declares shape [3, 4] of float32 (48 bytes), but 44 bytes follow it" in orjson.loads(refused.data)["error"]


def test_the_rest_deadline_is_the_timeout_from_now_or_none():
    """--rest_api_timeout_in_ms, for TF Serving REST and v2 REST alike."""
    assert deadline(None) is None
    before = time.monotonic()
    ends = deadline(250)
    assert before + 0.25 <= ends <= time.monotonic() + 0.25
