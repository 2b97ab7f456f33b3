"""`serve` against the real SageMaker clients: the SageMaker Python SDK v2's TensorFlowPredictor
with the SDK's own serializers and deserializers (run in .venv-sagemaker by
tests/sagemaker_sdk/predictor_calls.py, through both SageMaker's local-mode runtime client and
botocore's sagemaker-runtime client), and botocore's InvokeEndpoint called from this process.

The request shapes are those of AWS's TF Serving container,
aws/sagemaker-tensorflow-serving-container docker/build_artifacts/sagemaker/tensorflowServing.js:
json_request (a body naming "instances"/"inputs"/"examples" passes through; is_json_lines:
documents one after another are one instance each; generic_json_request: anything else is one
instance unless it starts with a list of lists), csv_request (one instance per line, a line
without a comma one value), tfs_json_request (the Content-Type of a JSON answer is the Accept
type) and parse_custom_attributes / make_tfs_uri (tfs-model-name, tfs-model-version). Every
answer is compared with OpenVINO's own result on the same input.
"""

from __future__ import annotations

import io
import json
import pathlib

import boto3
import botocore.exceptions
import numpy as np
import openvino as ov
import pytest
import requests
from openvino import opset13 as ops

from tests import models
from tests.framework_envs import run_sagemaker
from tests.sagemaker_helpers import ServeProcess, csv_body, json_body, npy_body

RNG = np.random.default_rng(15)
X = RNG.standard_normal((3, 4)).astype(np.float32)  # three instances of the scale model
A = RNG.standard_normal((2, 3)).astype(np.float32)  # the pair model's inputs
B = RNG.standard_normal((2, 3)).astype(np.float32)
COLUMN = np.array([[1.5], [-2.25], [3.0]], dtype=np.float32)  # a single CSV column: 3 instances
CLIENTS = ("local", "botocore")


def pair_model() -> ov.Model:
    """a, b f32 [-1, 3] -> sum = a + b: a JSON object names its inputs."""
    a = ops.parameter([-1, 3], np.float32, name="a")
    b = ops.parameter([-1, 3], np.float32, name="b")
    total = ops.add(a, b)
    total.output(0).get_tensor().set_names({"sum"})
    return ov.Model([total], [a, b], "pair")


@pytest.fixture(scope="module")
def irs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """The model directory SageMaker mounts: scale (versions 1: x*2 and 2: x*3), column (x*5 on
    a 1-D input: one CSV value per instance) and pair; the IR file of each, by name."""
    root = tmp_path_factory.mktemp("sagemaker_sdk") / "model"
    return {
        "scale/1": models.save(models.scale_model(2.0), root / "scale", 1) / "model.xml",
        "scale/2": models.save(models.scale_model(3.0), root / "scale", 2) / "model.xml",
        "column/1": models.save(models.scale_model(5.0, [-1]), root / "column", 1) / "model.xml",
        "pair/1": models.save(pair_model(), root / "pair", 1) / "model.xml",
    }


@pytest.fixture(scope="module")
def server(irs: dict[str, pathlib.Path]):
    root = irs["scale/1"].parent.parent.parent
    env = {"SAGEMAKER_TFS_DEFAULT_MODEL_NAME": "scale"}
    process = ServeProcess(root, root.parent / "serve.log", env).wait_ready()
    yield process
    assert process.stop() == 0


def openvino(irs: dict[str, pathlib.Path], model: str, **inputs: np.ndarray) -> np.ndarray:
    """OpenVINO's own answer (the one output) of model "name/version" for these inputs."""
    (output,) = models.direct_infer(irs[model], inputs).values()
    return output


# Every TensorFlowPredictor call the SDK makes, by name; each runs once per runtime client.
CALLS: dict[str, dict] = {
    "flat_list": {"data": X[0].tolist()},
    "list_of_lists": {"data": X.tolist()},
    "dict": {"data": {"a": A[0].tolist(), "b": B[0].tolist()}, "model_name": "pair"},
    "json_lines": {"serializer": "jsonlines", "data": X.tolist()},
    "json_lines_objects": {
        "serializer": "jsonlines",
        "data": [{"a": a, "b": b} for a, b in zip(A.tolist(), B.tolist(), strict=True)],
        "model_name": "pair",
    },
    "jsons": {"serializer": "jsonlines", "content_type": "application/jsons", "data": X.tolist()},
    "json_lines_answer": {
        "serializer": "jsonlines",
        "deserializer": "jsonlines",
        "data": X.tolist(),
    },
    "csv_rows_npy": {
        "serializer": "csv",
        "deserializer": "npy",
        "accept": "text/csv",
        "data": X.tolist(),
        "dtype": "float32",
    },
    "csv_rows_csv": {"serializer": "csv", "deserializer": "csv", "data": X.tolist(), "dtype": "float32"},
    "csv_rows_json": {"serializer": "csv", "data": X.tolist(), "dtype": "float32"},
    "csv_column": {
        "serializer": "csv",
        "deserializer": "csv",
        "data": COLUMN.tolist(),
        "dtype": "float32",
        "model_name": "column",
    },
    "csv_column_json": {"serializer": "csv", "data": COLUMN.tolist(), "dtype": "float32", "model_name": "column"},
    "npy": {"serializer": "npy", "deserializer": "npy", "data": X.tolist(), "dtype": "float32"},
    "npy_json_answer": {"serializer": "npy", "data": X.tolist(), "dtype": "float32"},
    "version_1": {
        "serializer": "npy",
        "deserializer": "npy",
        "data": X.tolist(),
        "dtype": "float32",
        "model_name": "scale",
        "model_version": "1",
    },
    "version_2": {
        "serializer": "npy",
        "deserializer": "npy",
        "data": X.tolist(),
        "dtype": "float32",
        "model_name": "scale",
        "model_version": "2",
    },
    "version_only": {"data": X.tolist(), "model_version": "1"},
    "attributes_version_1": {"data": X.tolist(), "custom_attributes": "tfs-model-name=scale,tfs-model-version=1"},
    "attributes_column": {
        "data": COLUMN[:, 0].tolist(),
        "custom_attributes": "tfs-model-name=column",
        "serializer": "npy",
        "dtype": "float32",
        "deserializer": "npy",
    },
    "wrong_shape": {"data": [[1.0, 2.0, 3.0]]},
    "unknown_version": {"data": X.tolist(), "model_name": "scale", "model_version": "7"},
}


@pytest.fixture(scope="module")
def sdk(server: ServeProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict]:
    """Every call of CALLS through each runtime client, in one run of the SDK's Python:
    (name, client) -> what the predictor returned or raised."""
    plan = [{**call, "client": client} for client in CLIENTS for call in CALLS.values()]
    plan_path = tmp_path_factory.mktemp("sdk_plan") / "plan.json"
    plan_path.write_text(json.dumps(plan))
    result = run_sagemaker("predictor_calls.py", str(server.http_port), str(plan_path))
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    keys = [(name, client) for client in CLIENTS for name in CALLS]
    return dict(zip(keys, answers, strict=True))


def ok(sdk: dict, name: str, client: str) -> dict:
    answer = sdk[(name, client)]
    assert answer["ok"], answer
    return answer


def predictions(sdk: dict, name: str, client: str) -> np.ndarray:
    """The JSONDeserializer's answer: TF Serving's {"predictions": ...} with Content-Type JSON."""
    answer = ok(sdk, name, client)
    assert answer["content_type"] == "application/json"
    assert set(answer["value"]) == {"predictions"}, answer["value"]
    return np.array(answer["value"]["predictions"], dtype=np.float32)


def ndarray(sdk: dict, name: str, client: str, content_type: str) -> np.ndarray:
    """The NumpyDeserializer's answer, read from an answer of this Content-Type."""
    answer = ok(sdk, name, client)
    assert answer["content_type"] == content_type
    value = answer["value"]
    return np.array(value["ndarray"], dtype=value["dtype"])


@pytest.mark.parametrize("client", CLIENTS)
def test_json_flat_list_is_one_instance(sdk, irs, client: str) -> None:
    """generic_json_request: [1, 2, 3, 4] is wrapped as [[1, 2, 3, 4]], one instance."""
    np.testing.assert_array_equal(predictions(sdk, "flat_list", client), openvino(irs, "scale/2", x=X[:1]))


@pytest.mark.parametrize("client", CLIENTS)
def test_json_list_of_lists_is_several_instances(sdk, irs, client: str) -> None:
    np.testing.assert_array_equal(predictions(sdk, "list_of_lists", client), openvino(irs, "scale/2", x=X))


@pytest.mark.parametrize("client", CLIENTS)
def test_json_dict_is_one_instance(sdk, irs, client: str) -> None:
    """generic_json_request: {"a": [...], "b": [...]} is [{...}], one instance naming the inputs."""
    np.testing.assert_array_equal(predictions(sdk, "dict", client), openvino(irs, "pair/1", a=A[:1], b=B[:1]))


@pytest.mark.parametrize("client", CLIENTS)
def test_json_lines_are_one_instance_per_line(sdk, irs, client: str) -> None:
    """json_lines_request: JSONLinesSerializer's newline-separated documents, lists or objects."""
    np.testing.assert_array_equal(predictions(sdk, "json_lines", client), openvino(irs, "scale/2", x=X))
    np.testing.assert_array_equal(predictions(sdk, "json_lines_objects", client), openvino(irs, "pair/1", a=A, b=B))
    np.testing.assert_array_equal(predictions(sdk, "jsons", client), openvino(irs, "scale/2", x=X))  # application/jsons


@pytest.mark.parametrize("client", CLIENTS)
def test_json_lines_answer_is_tf_serving_json_on_one_line(sdk, irs, client: str) -> None:
    """tfs_json_request: with Accept application/jsonlines the answer is TF Serving's JSON with
    its newlines removed, typed application/jsonlines; JSONLinesDeserializer reads one document."""
    answer = ok(sdk, "json_lines_answer", client)
    assert answer["content_type"] == "application/jsonlines"
    (document,) = answer["value"]
    np.testing.assert_array_equal(np.array(document["predictions"], np.float32), openvino(irs, "scale/2", x=X))


@pytest.mark.parametrize("client", CLIENTS)
def test_csv_is_one_instance_per_line_and_answers_exactly_text_csv(sdk, irs, client: str) -> None:
    """csv_request: CSVSerializer's 2-D array, one line per instance. The answer's Content-Type
    is exactly text/csv (botocore hands the server's own to the deserializer; NumpyDeserializer
    compares it as a whole), read by NumpyDeserializer and CSVDeserializer; JSON by default."""
    expected = openvino(irs, "scale/2", x=X)
    np.testing.assert_array_equal(ndarray(sdk, "csv_rows_npy", client, "text/csv").astype(np.float32), expected)
    rows = ok(sdk, "csv_rows_csv", client)
    assert rows["content_type"] == "text/csv"
    np.testing.assert_array_equal(np.array(rows["value"], dtype=np.float32), expected)
    np.testing.assert_array_equal(predictions(sdk, "csv_rows_json", client), expected)


@pytest.mark.parametrize("client", CLIENTS)
def test_csv_single_column_is_one_value_per_instance(sdk, irs, client: str) -> None:
    """csv_request: a line without a comma is one value, so a column of 3 is 3 scalar instances
    (the column model's input is 1-D)."""
    expected = openvino(irs, "column/1", x=COLUMN[:, 0])
    column = ok(sdk, "csv_column", client)
    assert column["content_type"] == "text/csv"
    np.testing.assert_array_equal(np.array(column["value"], dtype=np.float32), expected[:, None])
    np.testing.assert_array_equal(predictions(sdk, "csv_column_json", client), expected)


@pytest.mark.parametrize("client", CLIENTS)
def test_numpy_serializer_and_deserializer(sdk, irs, client: str) -> None:
    """NumpySerializer (application/x-npy, np.save) and NumpyDeserializer (Accept
    application/x-npy): float32 in, the model's float32 out, bit for bit."""
    answer = ndarray(sdk, "npy", client, "application/x-npy")
    assert answer.dtype == np.float32
    np.testing.assert_array_equal(answer, openvino(irs, "scale/2", x=X))
    np.testing.assert_array_equal(predictions(sdk, "npy_json_answer", client), openvino(irs, "scale/2", x=X))


@pytest.mark.parametrize("client", CLIENTS)
def test_custom_attributes_reach_the_model_and_version(sdk, irs, client: str) -> None:
    """parse_custom_attributes: TensorFlowPredictor(model_name=, model_version=) sends
    tfs-model-name / tfs-model-version, as does CustomAttributes; no version is the latest."""
    for name, model in [("version_1", "scale/1"), ("version_2", "scale/2")]:
        np.testing.assert_array_equal(ndarray(sdk, name, client, "application/x-npy"), openvino(irs, model, x=X))
    np.testing.assert_array_equal(predictions(sdk, "version_only", client), openvino(irs, "scale/1", x=X))
    np.testing.assert_array_equal(predictions(sdk, "attributes_version_1", client), openvino(irs, "scale/1", x=X))
    np.testing.assert_array_equal(
        ndarray(sdk, "attributes_column", client, "application/x-npy"), openvino(irs, "column/1", x=COLUMN[:, 0])
    )


def server_error(server: ServeProcess, name: str, status: int) -> str:
    """The server's own error message for the request the SDK makes as CALLS[name] (JSON)."""
    call = CALLS[name]
    attributes = ",".join(
        f"tfs-model-{key}={call['model_' + key]}" for key in ("name", "version") if "model_" + key in call
    )
    response = server.invoke(json_body(call["data"]), "application/json", attributes=attributes or None)
    assert response.status_code == status, response.text
    return response.json()["error"]


@pytest.mark.parametrize(("name", "status"), [("wrong_shape", 400), ("unknown_version", 404)])
def test_predictor_errors(sdk, server: ServeProcess, name: str, status: int) -> None:
    """An error answer: SageMaker's local-mode client does not look at the status and hands the
    body to the deserializer ({"error": message}, AWS's container's error body); over botocore
    the predictor raises ClientError with the server's status (see
    test_botocore_raises_with_the_servers_status for where the message goes)."""
    message = server_error(server, name, status)
    local = ok(sdk, name, "local")
    assert local["value"] == {"error": message}
    raised = sdk[(name, "botocore")]
    assert not raised["ok"] and raised["error"] in ("ClientError", "ModelError"), raised
    assert raised["status"] == status, raised


# botocore's sagemaker-runtime client from this process: InvokeEndpoint as a deployed endpoint's
# caller makes it, sent to the server's /invocations by a before-send hook.


@pytest.fixture(scope="module")
def runtime(server: ServeProcess):
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    client = session.client("sagemaker-runtime")

    def to_invocations(request, **_) -> None:
        request.url = f"{server.url}/invocations"

    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", to_invocations)
    yield client
    client.close()


def invoke(runtime, body: bytes, content_type: str, accept: str | None = None, attributes: str | None = None) -> dict:
    request = {"EndpointName": "ie-serving-test", "Body": body, "ContentType": content_type}
    if accept:
        request["Accept"] = accept
    if attributes:
        request["CustomAttributes"] = attributes
    return runtime.invoke_endpoint(**request)


def _json(body: bytes) -> np.ndarray:
    return np.array(json.loads(body)["predictions"], np.float32)


def _npy(body: bytes) -> np.ndarray:
    return np.load(io.BytesIO(body), allow_pickle=False)


def _csv(body: bytes) -> np.ndarray:
    return np.loadtxt(io.StringIO(body.decode()), delimiter=",", dtype=np.float32, ndmin=2)


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "read"),
    [
        (json_body(X), "application/json", None, _json),
        (json_body(X), "application/json", "application/json", _json),
        (b"\n".join(json_body(row) for row in X), "application/jsonlines", "application/jsonlines", _json),
        (csv_body(X), "text/csv", "text/csv", _csv),
        (npy_body(X), "application/x-npy", "application/x-npy", _npy),
        (npy_body(X), "application/x-npy", "text/csv", _csv),
    ],
    ids=["json", "json-accept-json", "jsonlines", "csv", "npy", "npy-accept-csv"],
)
def test_botocore_sees_the_answer_type(runtime, irs, body: bytes, content_type: str, accept, read) -> None:
    """InvokeEndpoint's ContentType is the server's Content-Type header: exactly the type asked
    for (application/json without an Accept)."""
    response = invoke(runtime, body, content_type, accept)
    assert response["ContentType"] == (accept or "application/json")
    np.testing.assert_array_equal(read(response["Body"].read()), openvino(irs, "scale/2", x=X))


def test_botocore_custom_attributes_pick_the_version(runtime, irs) -> None:
    for version, factor in [("1", "scale/1"), ("2", "scale/2")]:
        attributes = f"tfs-model-name=scale,tfs-model-version={version}"
        response = invoke(runtime, npy_body(X), "application/x-npy", "application/x-npy", attributes)
        np.testing.assert_array_equal(_npy(response["Body"].read()), openvino(irs, factor, x=X))


@pytest.mark.parametrize(
    ("body", "content_type", "attributes", "status"),
    [
        (json_body([[1.0, 2.0, 3.0]]), "application/json", None, 400),
        (b"[[1.0, 2.0", "application/json", None, 400),
        (json_body(X), "application/json", "tfs-model-name=missing", 404),
        (b"\x00\x01", "application/octet-stream", None, 415),
    ],
    ids=["wrong-shape", "bad-json", "unknown-model", "unsupported-type"],
)
def test_botocore_raises_with_the_servers_status(
    runtime, server: ServeProcess, body: bytes, content_type: str, attributes, status: int
) -> None:
    """A failed InvokeEndpoint raises botocore's ClientError with the server's HTTP status as its
    code. The server answers AWS's container's error body, {"error": message}, byte for byte; on
    SageMaker the runtime service wraps that body into ModelError's message ("Received client
    error (400) from primary with message ..."). Straight from the container, as here, botocore's
    rest-json parser looks only for a "message" key, so Error.Message stays empty: the message is
    in the body, checked here with a plain HTTP call."""
    direct = server.invoke(body, content_type, attributes=attributes)
    assert direct.status_code == status, direct.text
    assert set(direct.json()) == {"error"} and direct.json()["error"]
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        invoke(runtime, body, content_type, attributes=attributes)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raised.value.response["Error"]["Code"] == str(status)


def test_requests_and_botocore_agree_on_the_answer(runtime, server: ServeProcess) -> None:
    """The bytes botocore hands over are the server's bytes (no re-encoding on the way)."""
    direct = requests.post(
        f"{server.url}/invocations",
        data=csv_body(X),
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        timeout=30,
    )
    response = invoke(runtime, csv_body(X), "text/csv", "text/csv")
    assert response["Body"].read() == direct.content


@pytest.fixture(scope="module")
def archive_server(tmp_path_factory: pytest.TempPathFactory):
    """A model.tar.gz laid out as TF estimators export it: export/Servo/<timestamp>/, two
    versions, no SAGEMAKER_TFS_DEFAULT_MODEL_NAME and no SAGEMAKER_MAX_PAYLOAD_IN_MB."""
    root = tmp_path_factory.mktemp("sagemaker_archive") / "model"
    irs = {
        1600000000: models.save(models.scale_model(2.0), root / "export" / "Servo", 1600000000) / "model.xml",
        1700000000: models.save(models.scale_model(3.0), root / "export" / "Servo", 1700000000) / "model.xml",
    }
    process = ServeProcess(root, root.parent / "serve.log").wait_ready()
    yield process, irs
    assert process.stop() == 0


def test_botocore_reaches_every_version_of_a_model_found_at_depth(archive_server) -> None:
    """AWS's tfs_utils.find_models: export/Servo/1700000000/ is model Servo, the default (the
    only one), and serve.py serves every version found, so tfs-model-version reaches the older."""
    server, irs = archive_server
    runtime = boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1").client(
        "sagemaker-runtime"
    )
    runtime.meta.events.register(
        "before-send.sagemaker-runtime.InvokeEndpoint",
        lambda request, **_: setattr(request, "url", f"{server.url}/invocations"),
    )
    latest = invoke(runtime, json_body(X.tolist()), "application/json")
    np.testing.assert_array_equal(_json(latest["Body"].read()), models.direct_infer(irs[1700000000], {"x": X})["y"])
    older = invoke(runtime, json_body(X.tolist()), "application/json", attributes="tfs-model-version=1600000000")
    np.testing.assert_array_equal(_json(older["Body"].read()), models.direct_infer(irs[1600000000], {"x": X})["y"])
    # no 6 MB cap by default (AWS's nginx has client_max_body_size 0): an 8 MB body is served
    big = RNG.standard_normal((500_000, 4)).astype(np.float32)
    answer = invoke(runtime, npy_body(big), "application/x-npy", accept="application/x-npy")
    np.testing.assert_array_equal(_npy(answer["Body"].read()), models.direct_infer(irs[1700000000], {"x": big})["y"])
    assert "default model: Servo" in server.log()
    parameters = requests.get(f"{server.url}/execution-parameters", timeout=10).json()
    assert parameters == {"MaxConcurrentTransforms": 8, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
