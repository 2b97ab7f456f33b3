"""Runs in the TensorFlow virtual environment (never in the server's): calls the server
with the official tensorflow-serving-api stubs and TensorFlow's make_tensor_proto /
make_ndarray, and prints what came back as JSON for the test to compare.

usage: tf_serving_client.py ADDRESS MODEL INPUT_NPZ OUTPUT_NPZ
"""

import json
import sys

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)


def _typed_field(proto) -> str:
    """The name of the one typed value field that holds values, or "none"."""
    held = [field.name for field, _ in proto.ListFields() if field.name.endswith("_val")]
    return held[0] if len(held) == 1 else f"none of one: {held}"


def main(address: str, model: str, input_path: str, output_path: str) -> None:
    channel = grpc.insecure_channel(address)
    predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "serving_default"
    with np.load(input_path) as inputs:
        for name in inputs.files:
            request.inputs[name].CopyFrom(tf.make_tensor_proto(inputs[name]))
    response = predictions.Predict(request, timeout=30)
    np.savez(output_path, **{name: tf.make_ndarray(proto) for name, proto in response.outputs.items()})

    metadata_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    metadata_request.model_spec.name = model
    metadata = predictions.GetModelMetadata(metadata_request, timeout=30)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    metadata.metadata["signature_def"].Unpack(signatures)
    signature = signatures.signature_def["serving_default"]

    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = model
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request, timeout=30)

    print(
        json.dumps(
            {
                # where each output's values came: TF Serving writes the typed field of its dtype
                # unless --enable_serialization_as_tensor_content
                "fields": {
                    name: "tensor_content" if proto.tensor_content else _typed_field(proto)
                    for name, proto in response.outputs.items()
                },
                # what TF Serving's example clients read (resnet_client_grpc.py: outputs[...].float_val)
                "float_val": {
                    name: list(proto.float_val) for name, proto in response.outputs.items() if proto.float_val
                },
                "version": response.model_spec.version.value,
                "inputs": {
                    k: [tf.dtypes.as_dtype(v.dtype).name, [d.size for d in v.tensor_shape.dim]]
                    for k, v in signature.inputs.items()
                },
                "outputs": sorted(signature.outputs),
                "status": [
                    [s.version, get_model_status_pb2.ModelVersionStatus.State.Name(s.state)]
                    for s in status.model_version_status
                ],
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
