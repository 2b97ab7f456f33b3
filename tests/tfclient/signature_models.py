"""Runs in the TensorFlow virtual environment: writes SavedModels with several signatures and
calls the server about them with the official tensorflow-serving-api client.

usage: signature_models.py make OUT_DIR
         OUT_DIR/keras/1: Keras 3 model.export() (signatures `serve` and `serving_default`)
         OUT_DIR/two/1: serving_default (x -> y = 2x) and `triple` (a -> z = 3a), different functions
         OUT_DIR/expected.npz: TensorFlow's own answers
       signature_models.py call ADDRESS MODEL SIGNATURE INPUT_NPZ
         prints JSON: the outputs (or the error's code and details) and the metadata's signatures
"""

import json
import sys

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

X = np.array([[1.0, -2.0, 3.5, 0.25]], np.float32)


def make(out: str) -> None:
    inputs = tf.keras.Input((4,), name="x")
    dense = tf.keras.layers.Dense(3, name="d")
    keras = tf.keras.Model(inputs, dense(inputs))
    keras.export(f"{out}/keras/1", verbose=False)

    class Two(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def double(self, x):
            return {"y": x * 2.0}

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="a")])
        def triple(self, a):
            return {"z": a * 3.0}

    two = Two()
    tf.saved_model.save(two, f"{out}/two/1", signatures={"serving_default": two.double, "triple": two.triple})
    loaded = tf.saved_model.load(f"{out}/keras/1")
    np.savez(
        f"{out}/expected.npz",
        x=X,
        keras_serve=loaded.signatures["serve"](x=tf.constant(X))["output_0"].numpy(),
        keras_default=loaded.signatures["serving_default"](x=tf.constant(X))["output_0"].numpy(),
    )


def call(address: str, model: str, signature: str, input_path: str) -> None:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(address))
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    with np.load(input_path) as inputs:
        for name in inputs.files:
            request.inputs[name].CopyFrom(tf.make_tensor_proto(inputs[name]))
    answer: dict = {}
    try:
        response = stub.Predict(request, timeout=30)
        answer["outputs"] = {k: tf.make_ndarray(v).tolist() for k, v in response.outputs.items()}
        answer["signature_name"] = response.model_spec.signature_name
    except grpc.RpcError as exc:
        answer["error"] = [exc.code().name, exc.details()]
    metadata_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    metadata_request.model_spec.name = model
    signatures = get_model_metadata_pb2.SignatureDefMap()
    stub.GetModelMetadata(metadata_request, timeout=30).metadata["signature_def"].Unpack(signatures)
    answer["metadata"] = {
        name: [sig.method_name, sorted(sig.inputs), sorted(sig.outputs)]
        for name, sig in signatures.signature_def.items()
    }
    print(json.dumps(answer))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        call(*sys.argv[2:])
