"""SageMaker request shapes as AWS's TF Serving container reads them
(aws/sagemaker-tensorflow-serving-container, docker/build_artifacts/sagemaker/tensorflowServing.js:
json_request, is_tfs_json, is_json_lines, generic_json_request, json_lines_request, csv_request),
through the real /invocations route over stand-in versions (tests/stub_versions.py).

The stand-in multiplies x ([-1, 2] float32) by 2, so each answer shows how many instances the
server made of the body."""

from __future__ import annotations

import orjson
import pytest

from ie_serving.service import Service
from serve.content import sagemaker_document
from serve.routes import create_sagemaker_app
from tests.stub_versions import Scale, served, store_of


@pytest.fixture(scope="module")
def client():
    return create_sagemaker_app(Service(store_of("m", served(1, Scale(2.0)))), 6, "m", None, (8080, 9000)).test_client()


@pytest.mark.parametrize(
    ("body", "instances"),
    [
        (b"[1, 2]", [[1, 2]]),  # a one-dimensional list is ONE instance
        (b"[[1, 2], [3, 4]]", [[1, 2], [3, 4]]),  # a list of lists is several
        (b"5", [5]),  # a value is one instance
        (b'{"x": [1, 2]}', [{"x": [1, 2]}]),  # a dict is one instance
        (b"[1, 2]\n[3, 4]\n", [[1, 2], [3, 4]]),  # JSON documents one per line: one instance each
        (b'{"x": [1, 2]}\n{"x": [3, 4]}', [{"x": [1, 2]}, {"x": [3, 4]}]),
        (b'{"instances": [[1, 2]]}', [[1, 2]]),  # TF Serving's JSON passes through
    ],
)
def test_json_bodies_become_what_aws_makes_of_them(body, instances):
    document = sagemaker_document(body)
    assert document == ({"instances": instances} if b"instances" not in body else orjson.loads(body))


def test_inputs_and_examples_pass_through():
    assert sagemaker_document(b'{"inputs": [[1, 2]]}') == {"inputs": [[1, 2]]}
    assert sagemaker_document(b'{"examples": [{"a": 1}]}') == {"examples": [{"a": 1}]}


@pytest.mark.parametrize("content_type", ["application/json", "application/jsonlines", "application/jsons"])
@pytest.mark.parametrize(
    ("body", "predictions"),
    [
        (b"[1.5, 2]", [[3.0, 4.0]]),
        (b"[[1, 2], [3, 4]]", [[2.0, 4.0], [6.0, 8.0]]),
        (b"[1, 2]\n[3, 4]", [[2.0, 4.0], [6.0, 8.0]]),
        (b'{"x": [1, 2]}', [[2.0, 4.0]]),
    ],
)
def test_invocations_answer_per_instance(client, content_type, body, predictions):
    answer = client.post("/invocations", data=body, content_type=content_type)
    assert answer.status_code == 200, answer.data
    assert orjson.loads(answer.data) == {"predictions": predictions}
    assert answer.headers["Content-Type"] == "application/json"


def test_csv_one_instance_per_line_and_exact_answer_types(client):
    answer = client.post("/invocations", data=b"1,2\n3,4\n", content_type="text/csv", headers={"Accept": "text/csv"})
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/csv"
    assert answer.data == b"2,4\n6,8\n"
    lines = client.post(
        "/invocations", data=b"[1, 2]", content_type="application/json", headers={"Accept": "application/jsonlines"}
    )
    assert lines.headers["Content-Type"] == "application/jsonlines"
    assert lines.data.count(b"\n") == 0 and orjson.loads(lines.data) == {"predictions": [[2.0, 4.0]]}


def test_a_single_csv_column_is_one_value_per_instance():
    """AWS's csv_request: a line without a comma is the value itself, not a list. A model whose
    input is [-1, 1] takes the column as its rows."""
    column = Scale(3.0)
    column.signatures = {
        key: type(sig)({"x": type(sig.inputs["x"])("x", sig.inputs["x"].dtype, (-1, 1))}, sig.outputs)
        for key, sig in column.signatures.items()
    }
    client = create_sagemaker_app(Service(store_of("c", served(1, column, "c"))), 6, "c", None, (1, 2)).test_client()
    answer = client.post("/invocations", data=b"1\n2\n3\n", content_type="text/csv")
    assert answer.status_code == 200, answer.data
    assert orjson.loads(answer.data) == {"predictions": [[3.0], [6.0], [9.0]]}


def test_no_body_size_cap_unless_the_variable_sets_one():
    """AWS's nginx has client_max_body_size 0 (no limit); SAGEMAKER_MAX_PAYLOAD_IN_MB caps when set."""
    from serve.settings import from_environ

    assert (
        from_environ({}).max_payload_mb is None
        and from_environ({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "7"}).max_payload_mb == 7
    )
    body = b"[" + b"[1.25, 2.5]," * 700_000 + b"[1, 2]]"  # 8.4 MB, over the old 6 MB default
    service = Service(store_of("m", served(1, Scale(2.0))))
    uncapped = create_sagemaker_app(service, None, "m", None, (1, 2)).test_client()
    answer = uncapped.post("/invocations", data=body, content_type="application/json")
    assert answer.status_code == 200 and len(orjson.loads(answer.data)["predictions"]) == 700_001
    capped = create_sagemaker_app(service, 7, "m", None, (1, 2)).test_client()
    assert capped.post("/invocations", data=body, content_type="application/json").status_code == 413


def test_execution_parameters_for_batch_transform():
    """SageMaker Batch Transform's GET /execution-parameters (the three fields SageMaker reads)."""
    from serve.settings import execution_parameters, from_environ

    env = from_environ({"SAGEMAKER_GUNICORN_THREADS": "4", "SAGEMAKER_GUNICORN_WORKERS": "2"})
    service = Service(store_of("m", served(1, Scale(2.0))))
    client = create_sagemaker_app(service, None, "m", None, (1, 2), None, execution_parameters(env)).test_client()
    answer = client.get("/execution-parameters")
    assert answer.status_code == 200
    assert orjson.loads(answer.data) == {
        "MaxConcurrentTransforms": 8,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }
    capped = execution_parameters(from_environ({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "500"}))
    assert capped["MaxPayloadInMB"] == 100
