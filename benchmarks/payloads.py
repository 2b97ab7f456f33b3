"""Request bodies for every wire format the suite sends, and the decoders that read the
answers back (each contender's first answer is checked against OpenVINO's own result).

All bodies are built once, before the load starts, so every client sends ready bytes."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import orjson

from benchmarks.models import INPUT, OUTPUT
from ie_serving.protos.inference import grpc_service_pb2
from ie_serving.protos.tensorflow_serving.apis import predict_pb2
from ie_serving.tensor_proto import to_numpy, to_proto

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
MODEL_INFER_METHOD = "/inference.GRPCInferenceService/ModelInfer"
HEADER_LENGTH = "Inference-Header-Content-Length"  # Triton's binary tensor data extension
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


def v2_grpc_infer(model: str, array: np.ndarray) -> Request:
    """ModelInferRequest with the input in raw_input_contents, as tritonclient.grpc sends it."""
    request = grpc_service_pb2.ModelInferRequest(model_name=model)
    request.inputs.add(name=INPUT, datatype="FP32", shape=array.shape)
    request.raw_input_contents.append(array.astype("<f4").tobytes())
    return Request(MODEL_INFER_METHOD, request.SerializeToString())


def v2_binary(model: str, array: np.ndarray) -> Request:
    """The JSON header, then the input's bytes; the output asked as binary (tritonclient.http's default)."""
    raw = array.astype("<f4").tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {"name": INPUT, "shape": array.shape, "datatype": "FP32", "parameters": {"binary_data_size": len(raw)}}
            ],
            "outputs": [{"name": OUTPUT, "parameters": {"binary_data": True}}],
        }
    )
    headers = {HEADER_LENGTH: str(len(header)), "Content-Type": "application/octet-stream"}
    return Request(f"/v2/models/{model}/infer", header + raw, headers)


def v2_json(model: str, array: np.ndarray) -> Request:
    document = {"inputs": [{"name": INPUT, "shape": array.shape, "datatype": "FP32", "data": array.ravel()}]}
    return _json_request(f"/v2/models/{model}/infer", document)


# format name -> how to build its request from (model name, input array)
BUILDERS = {
    "grpc": grpc_predict,
    "rest_row": lambda model, x: _json_request(f"/v1/models/{model}:predict", {"instances": x}),
    "rest_column": lambda model, x: _json_request(f"/v1/models/{model}:predict", {"inputs": x}),
    "invocations_json": lambda model, x: _json_request("/invocations", {"instances": x}),
    "invocations_npy": lambda model, x: npy_request("/invocations", x),
    "kserve_v1": lambda model, x: _json_request(f"/v1/models/{model}:predict", {"instances": x}),
    "naive_flask": lambda model, x: _json_request("/predict", {"instances": x}),
    "v2_grpc": v2_grpc_infer,
    "v2_binary": v2_binary,
    "v2_json": v2_json,
    "kserve_v2": v2_json,
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
    if form == "v2_grpc":
        response = grpc_service_pb2.ModelInferResponse.FromString(body)
        return np.frombuffer(response.raw_output_contents[0], "<f4").reshape(response.outputs[0].shape)
    if form == "v2_binary":
        # the JSON header ends where the JSON value does (latin-1 keeps byte offsets)
        document, length = json.JSONDecoder().raw_decode(body.decode("latin-1"))
        return np.frombuffer(body[length:], "<f4").reshape(document["outputs"][0]["shape"])
    if form in ("v2_json", "kserve_v2"):
        output = orjson.loads(body)["outputs"][0]
        return np.asarray(output["data"], np.float32).reshape(output["shape"])
    document = orjson.loads(body)
    return np.asarray(document["outputs"] if form == "rest_column" else document["predictions"], np.float32)
