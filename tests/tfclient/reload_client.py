"""Runs in the TensorFlow virtual environment: version labels and config reload with the
official tensorflow-serving-api client.

usage: reload_client.py ADDRESS predict MODEL LABEL    prints {"version", "y"} or {"error": [code, details]}
       reload_client.py ADDRESS reload CONFIG_FILE     sends HandleReloadConfigRequest with the text
                                                       ModelServerConfig, prints the status or the error
"""

import json
import sys

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import (
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)


def predict(channel: grpc.Channel, model: str, label: str) -> dict:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.version_label = label
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones((1, 4), np.float32)))
    try:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
    except grpc.RpcError as exc:
        return {"error": [exc.code().name, exc.details()]}
    return {"version": response.model_spec.version.value, "y": tf.make_ndarray(response.outputs["y"]).tolist()}


def reload(channel: grpc.Channel, path: str) -> dict:
    request = model_management_pb2.ReloadConfigRequest()
    with open(path, encoding="utf-8") as handle:
        text_format.Parse(handle.read(), request.config)
    try:
        response = model_service_pb2_grpc.ModelServiceStub(channel).HandleReloadConfigRequest(request, timeout=120)
    except grpc.RpcError as exc:
        return {"error": [exc.code().name, exc.details()]}
    return {"error_code": response.status.error_code, "error_message": response.status.error_message}


if __name__ == "__main__":
    address, action, *rest = sys.argv[1:]
    with grpc.insecure_channel(address) as channel:
        print(json.dumps(predict(channel, *rest) if action == "predict" else reload(channel, *rest)))
