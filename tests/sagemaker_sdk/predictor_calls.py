"""Runs in the SageMaker SDK's virtual environment (.venv-sagemaker, never the server's): makes
each call of a JSON plan with `sagemaker.tensorflow.TensorFlowPredictor` and the SDK's own
serializers and deserializers, and prints one JSON line with what each call returned.

usage: predictor_calls.py PORT PLAN_JSON

Two runtime clients carry the predictor's requests to POST /invocations on 127.0.0.1:PORT:
- "local": SageMaker's local-mode client, sagemaker.local.LocalSagemakerRuntimeClient with
  {"local": {"serving_port": PORT}}. It hands the deserializer the Accept it sent as the
  answer's content type. Its get_docker_host() asks the docker CLI, so it is patched here.
- "botocore": boto3's sagemaker-runtime client (InvokeEndpoint), its request sent to
  /invocations by a before-send hook: the deserializer sees the server's real Content-Type, and
  an error answer raises botocore's ClientError, as a deployed endpoint's client sees them.

A plan entry: {"client", "serializer": json|csv|npy|jsonlines|data (data: a file path), "deserializer":
json|npy|csv|jsonlines, "content_type" and "accept" (optional: the serializer's content type,
the deserializer's accept), "data", "dtype"
(optional: data becomes a numpy array of that dtype), "model_name", "model_version",
"custom_attributes"}. A result: {"ok": true, "content_type", "value"} (numpy arrays as
{"ndarray": values, "dtype", "shape"}) or {"ok": false, "error", "message", "status", "code"}.
"""

import json
import sys

import boto3
import numpy as np
import sagemaker.local.local_session
from botocore.exceptions import ClientError
from sagemaker import deserializers, serializers
from sagemaker.local import LocalSagemakerRuntimeClient
from sagemaker.session import Session
from sagemaker.tensorflow import TensorFlowPredictor

sagemaker.local.local_session.get_docker_host = lambda: "127.0.0.1"

ENDPOINT = "ie-serving-test"
SERIALIZERS = {
    "json": serializers.JSONSerializer,
    "csv": serializers.CSVSerializer,
    "npy": serializers.NumpySerializer,
    "jsonlines": serializers.JSONLinesSerializer,
    "data": serializers.DataSerializer,  # a file path's bytes as the body (images)
}
DESERIALIZERS = {
    "json": deserializers.JSONDeserializer,
    "npy": deserializers.NumpyDeserializer,
    "csv": deserializers.CSVDeserializer,
    "jsonlines": deserializers.JSONLinesDeserializer,
}


class Recording:
    """The runtime client, recording the content type each answer was handed over with."""

    def __init__(self, client):
        self.client = client
        self.content_type = None

    def invoke_endpoint(self, **request):
        response = self.client.invoke_endpoint(**request)
        self.content_type = response.get("ContentType")
        return response


def botocore_client(port: int):
    boto = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    client = boto.client("sagemaker-runtime")

    def to_invocations(request, **_):
        request.url = f"http://127.0.0.1:{port}/invocations"

    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", to_invocations)
    return boto, client


def sessions(port: int) -> dict:
    boto, client = botocore_client(port)
    local = LocalSagemakerRuntimeClient(config={"local": {"serving_port": port}})
    return {
        name: Session(boto_session=boto, sagemaker_client=object(), sagemaker_runtime_client=Recording(runtime))
        for name, runtime in (("local", local), ("botocore", client))
    }


def jsonable(value):
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    return value


def call(session: Session, entry: dict) -> dict:
    data = entry["data"]
    if entry.get("dtype"):
        data = np.array(data, dtype=entry["dtype"])
    serializer_class = SERIALIZERS[entry.get("serializer", "json")]
    deserializer_class = DESERIALIZERS[entry.get("deserializer", "json")]
    deserializer = deserializer_class(accept=entry["accept"]) if entry.get("accept") else deserializer_class()
    predictor = TensorFlowPredictor(
        ENDPOINT,
        sagemaker_session=session,
        serializer=serializer_class(content_type=entry["content_type"])
        if entry.get("content_type")
        else serializer_class(),
        deserializer=deserializer,
        model_name=entry.get("model_name"),
        model_version=entry.get("model_version"),
    )
    attributes = entry.get("custom_attributes")
    try:
        value = predictor.predict(data, {"CustomAttributes": attributes} if attributes else None)
    except ClientError as exc:
        metadata = exc.response.get("ResponseMetadata", {})
        return {
            "ok": False,
            "error": type(exc).__name__,
            "message": str(exc),
            "status": metadata.get("HTTPStatusCode"),
            "code": exc.response.get("Error", {}).get("Code"),
        }
    except Exception as exc:  # a deserializer that cannot read the answer, for example
        return {"ok": False, "error": type(exc).__name__, "message": str(exc), "status": None, "code": None}
    return {"ok": True, "content_type": session.sagemaker_runtime_client.content_type, "value": jsonable(value)}


def main(port: str, plan_path: str) -> None:
    with open(plan_path) as plan_file:
        plan = json.load(plan_file)
    clients = sessions(int(port))
    print(json.dumps([call(clients[entry.get("client", "local")], entry) for entry in plan]))


if __name__ == "__main__":
    main(*sys.argv[1:])
