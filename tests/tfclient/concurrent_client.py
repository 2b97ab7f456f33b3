"""Runs in the TensorFlow virtual environment: many concurrent Predict calls with the official
tensorflow-serving-api stubs, one input each, and the answers saved by request index.

usage: concurrent_client.py ADDRESS MODEL OUTPUT INPUT_NPZ OUTPUT_NPZ THREADS
INPUT_NPZ holds x0, x1, ... (each sent as input "x" of its own request); OUTPUT_NPZ gets
y0, y1, ... (OUTPUT of each answer); a failed call is printed and exits 1.
"""

import sys
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


def main(address: str, model: str, output: str, input_path: str, output_path: str, threads: str) -> None:
    channel = grpc.insecure_channel(address)
    predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    with np.load(input_path) as inputs:
        arrays = [inputs[f"x{i}"] for i in range(len(inputs.files))]

    def one(index: int) -> np.ndarray:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model
        request.inputs["x"].CopyFrom(tf.make_tensor_proto(arrays[index]))
        request.output_filter.append(output)
        return tf.make_ndarray(predictions.Predict(request, timeout=60).outputs[output])

    with ThreadPoolExecutor(int(threads)) as pool:
        answers = list(pool.map(one, range(len(arrays))))
    np.savez(output_path, **{f"y{i}": answer for i, answer in enumerate(answers)})


if __name__ == "__main__":
    main(*sys.argv[1:])
