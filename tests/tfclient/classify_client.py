"""Runs in the TensorFlow virtual environment (never in the server's): Classify, Regress and
MultiInference with the official tensorflow-serving-api stubs and tf.train.Example, and a
SavedModel made by TensorFlow for them.

usage: classify_client.py call ADDRESS CALLS_JSON
         CALLS_JSON: a list of {"method": "classify"|"regress"|"multi", "model": NAME,
         "signature": NAME, "examples": [{feature: [values]}], "context": {...} (optional),
         "tasks": [[signature, method_name], ...] (multi)}; a feature's values are floats
         (float_list), ints (int64_list) or strings (bytes_list), as tf.train.Feature holds them.
         Prints one JSON line per call: the answer ({"model_spec", "classifications" or
         "regressions" or "results"}) or {"error": [code, details]}.
       classify_client.py make OUT_DIR
         OUT_DIR/features/1: a SavedModel with inputs named like features (x f32 [None, 3],
           bias i64 [None, 1]) and outputs "scores" (softmax) and "outputs" (a regression), served
           as signatures serving_default and "regress" (one function)
         OUT_DIR/tf_classify/1: TensorFlow's own classification signature (a string tensor of
           serialized tf.Examples parsed in the graph), as TF Serving serves it
         OUT_DIR/expected.json: TensorFlow's answers for EXAMPLES
"""

import json
import sys

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

EXAMPLES = [{"x": [1.0, 0.0, -1.0], "bias": [0]}, {"x": [0.5, 2.0, 0.25], "bias": [2]}]
WEIGHTS = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, 1.0], [-1.0, 0.5, 0.0]], np.float32)


def _feature(values: list) -> tf.train.Feature:
    if all(isinstance(v, str) for v in values) and values:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in values]))
    if all(isinstance(v, int) for v in values) and values:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _example(features: dict) -> tf.train.Example:
    return tf.train.Example(features=tf.train.Features(feature={k: _feature(v) for k, v in features.items()}))


def _fill_input(request_input, call: dict) -> None:
    if "context" in call:
        target = request_input.example_list_with_context
        target.context.CopyFrom(_example(call["context"]))
    else:
        target = request_input.example_list
    for features in call["examples"]:
        target.examples.add().CopyFrom(_example(features))


def _classifications(result) -> list:
    return [[[c.label, c.score] for c in row.classes] for row in result.classifications]


def _spec(spec) -> list:
    return [spec.name, spec.signature_name, spec.version.value]


def _one(stub, call: dict) -> dict:
    method = call["method"]
    if method == "multi":
        request = inference_pb2.MultiInferenceRequest()
        for signature, method_name in call["tasks"]:
            task = request.tasks.add(method_name=method_name)
            task.model_spec.name = call["model"]
            task.model_spec.signature_name = signature
        _fill_input(request.input, call)
        response = stub.MultiInference(request, timeout=30)
        results = []
        for result in response.results:
            kind = result.WhichOneof("result")
            if kind == "classification_result":
                answer = _classifications(result.classification_result)
            else:
                answer = [r.value for r in result.regression_result.regressions]
            results.append({"model_spec": _spec(result.model_spec), kind: answer})
        return {"results": results}
    module = classification_pb2 if method == "classify" else regression_pb2
    request = module.ClassificationRequest() if method == "classify" else module.RegressionRequest()
    request.model_spec.name = call["model"]
    request.model_spec.signature_name = call.get("signature", "")
    _fill_input(request.input, call)
    if method == "classify":
        response = stub.Classify(request, timeout=30)
        return {"model_spec": _spec(response.model_spec), "classifications": _classifications(response.result)}
    response = stub.Regress(request, timeout=30)
    return {"model_spec": _spec(response.model_spec), "regressions": [r.value for r in response.result.regressions]}


def call(address: str, calls_path: str) -> None:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(address))
    with open(calls_path) as calls:
        for one in json.load(calls):
            try:
                print(json.dumps(_one(stub, one)))
            except grpc.RpcError as exc:
                print(json.dumps({"error": [exc.code().name, exc.details()]}))


def make(out: str) -> None:
    class Features(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 3], tf.float32, name="x"),
                tf.TensorSpec([None, 1], tf.int64, name="bias"),
            ]
        )
        def run(self, x, bias):
            logits = tf.matmul(x, WEIGHTS) + tf.cast(bias, tf.float32)
            return {"scores": tf.nn.softmax(logits), "outputs": tf.reduce_sum(logits, axis=1, keepdims=True)}

    features = Features()
    tf.saved_model.save(
        features, f"{out}/features/1", signatures={"serving_default": features.run, "regress": features.run}
    )
    x = np.array([e["x"] for e in EXAMPLES], np.float32)
    bias = np.array([e["bias"] for e in EXAMPLES], np.int64)
    expected = {k: v.numpy().tolist() for k, v in features.run(tf.constant(x), tf.constant(bias)).items()}

    # TensorFlow's own classify signature: one string input of serialized examples
    graph = tf.Graph()
    with graph.as_default():
        serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
        parsed = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([3], tf.float32)})
        scores = tf.nn.softmax(tf.matmul(parsed["x"], WEIGHTS))
        classes = tf.tile(tf.constant([["a", "b", "c"]]), [tf.shape(scores)[0], 1])
        with tf.compat.v1.Session() as session:
            builder = tf.compat.v1.saved_model.Builder(f"{out}/tf_classify/1")
            signature = tf.compat.v1.saved_model.classification_signature_def(serialized, classes, scores)
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={"serving_default": signature})
            builder.save()
    with open(f"{out}/expected.json", "w") as file:
        json.dump({"examples": EXAMPLES, **expected}, file)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        call(*sys.argv[2:])
