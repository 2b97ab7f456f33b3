"""Request bodies for every wire format the suite sends, and the decoders that read the
answers back (each contender's first answer is checked against OpenVINO's own result).

All bodies are built once, before the load starts, so every client sends ready bytes."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import orjson

from benchmarks.models import INPUT, OUTPUT
from ie_serving.protos.tensorflow_serving.apis import predict_pb2
from ie_serving.tensor_proto import to_numpy, to_proto

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
JSON = "application/json"
NPY = "application/x-npy"


@dataclasses.dataclass(frozen=True)
class Request:
    """One ready request: path (HTTP) or method (gRPC), headers and body."""

    path: str
    body: bytes
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def grpc_predict(model: str, array: np.ndarray) -> Request:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs[INPUT].CopyFrom(to_proto(array))
    return Request(PREDICT_METHOD, request.SerializeToString())


def _json_request(path: str, document: dict) -> Request:
    return Request(path, orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY), {"Content-Type": JSON})


def npy_request(path: str, array: np.ndarray) -> Request:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return Request(path, buffer.getvalue(), {"Content-Type": NPY, "Accept": NPY})


# format name -> how to build its request from (model name, input array)
BUILDERS = {
    "grpc": grpc_predict,
    "rest_row": lambda model, x: _json_request(f"/v1/models/{model}:predict", {"instances": x}),
    "rest_column": lambda model, x: _json_request(f"/v1/models/{model}:predict", {"inputs": x}),
    "invocations_json": lambda model, x: _json_request("/invocations", {"instances": x}),
    "invocations_npy": lambda model, x: npy_request("/invocations", x),
    "kserve_v1": lambda model, x: _json_request(f"/v1/models/{model}:predict", {"instances": x}),
    "naive_flask": lambda model, x: _json_request("/predict", {"instances": x}),
}


def build(form: str, model: str, array: np.ndarray) -> Request:
    return BUILDERS[form](model, array)


def decode_answer(form: str, body: bytes) -> np.ndarray:
    """The model's output from an answer body in the given format."""
    if form == "grpc":
        response = predict_pb2.PredictResponse.FromString(body)
        return to_numpy(OUTPUT, response.outputs[OUTPUT])
    if form == "invocations_npy":
        return np.load(io.BytesIO(body), allow_pickle=False)
    document = orjson.loads(body)
    return np.asarray(document["outputs"] if form == "rest_column" else document["predictions"], np.float32)
