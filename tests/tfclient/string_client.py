"""Runs in the TensorFlow virtual environment (never in the server's): sends files or strings
as one DT_STRING tensor of shape [N], built by TensorFlow's make_tensor_proto as TF Serving's
image clients do (tensorflow_serving/example/resnet_client_grpc.py), with the official
tensorflow-serving-api stubs, and prints one JSON line: each output (make_ndarray) as
{"dtype", "shape", "values"} (strings base64-encoded), or {"error": code, "details"}.

usage: string_client.py ADDRESS MODEL INPUT_NAME FILE [FILE ...]
"""

import base64
import json
import sys

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


def _jsonable(array):
    if array.dtype.kind in "OS":
        return [base64.b64encode(value).decode() for value in array.ravel().tolist()]
    return array.ravel().tolist()


def main(address: str, model: str, input_name: str, *paths: str) -> None:
    values = []
    for path in paths:
        with open(path, "rb") as handle:
            values.append(handle.read())
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs[input_name].CopyFrom(tf.make_tensor_proto(values, shape=[len(values)]))
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(address))
    try:
        response = stub.Predict(request, timeout=60)
    except grpc.RpcError as exc:
        print(json.dumps({"error": exc.code().name, "details": exc.details()}))
        return
    outputs = {}
    for name, proto in response.outputs.items():
        array = tf.make_ndarray(proto)
        outputs[name] = {
            "dtype": tf.dtypes.as_dtype(proto.dtype).name,
            "shape": list(array.shape),
            "values": _jsonable(array),
        }
    print(json.dumps({"outputs": outputs, "input_dtype": tf.dtypes.as_dtype(request.inputs[input_name].dtype).name}))


if __name__ == "__main__":
    main(*sys.argv[1:])
