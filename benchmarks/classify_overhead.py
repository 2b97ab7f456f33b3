"""What the server's own tf.Example parsing costs: gRPC Classify against gRPC Predict of the
same arrays, on one server, to one model whose inputs are named like features (tests/models.py
classifier_model: x f32 [-1, 3], bias i64 [-1, 1] -> scores, classes), in alternating rounds
by one sequential client on loopback, at several batch sizes (examples per request).

Prints each round's p50 and, per batch size, the p50 over all requests of each call.
usage: python -m benchmarks.classify_overhead [--rounds 6] [--requests 1000] [--batches 1,16,256]
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import statistics
import tempfile

import grpc
import numpy as np

from benchmarks.metrics_overhead import timed_calls
from ie_serving.protos.tensorflow.core.example import example_pb2
from ie_serving.protos.tensorflow_serving.apis import classification_pb2, predict_pb2
from ie_serving.tensor_proto import to_proto
from tests import models
from tests.server import ServerProcess

PREDICT = "/tensorflow.serving.PredictionService/Predict"
CLASSIFY = "/tensorflow.serving.PredictionService/Classify"


def _payloads(batch: int) -> dict[str, bytes]:
    """The same examples as a PredictRequest (tensors) and a ClassificationRequest (tf.Examples)."""
    rng = np.random.default_rng(batch)
    x = rng.random((batch, 3), dtype=np.float32)
    bias = rng.integers(0, 3, (batch, 1), dtype=np.int64)
    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "classifier"
    predict.inputs["x"].CopyFrom(to_proto(x))
    predict.inputs["bias"].CopyFrom(to_proto(bias))
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = "classifier"
    for row in range(batch):
        example = example_pb2.Example()
        example.features.feature["x"].float_list.value.extend(x[row].tolist())
        example.features.feature["bias"].int64_list.value.extend(bias[row].tolist())
        classify.input.example_list.examples.append(example)
    return {"predict": predict.SerializeToString(), "classify": classify.SerializeToString()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=1000, help="requests per call per round")
    parser.add_argument("--batches", default="1,16,256", help="examples per request, comma-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        models.save(models.classifier_model(), root / "classifier")
        command = ["model", "--model_name", "classifier", "--model_path", str(root / "classifier")]
        server = ServerProcess(command, root / "server.log", {"LOG_LEVEL": "INFO"}).wait_ready(120)
        try:
            channel = grpc.insecure_channel(server.address)
            calls = {"predict": channel.unary_unary(PREDICT), "classify": channel.unary_unary(CLASSIFY)}
            print(f"{datetime.date.today()}: load {os.getloadavg()[0]:.2f}; {args.rounds} rounds x {args.requests}")
            for batch in (int(b) for b in args.batches.split(",")):
                payloads = _payloads(batch)
                for label, call in calls.items():
                    timed_calls(call, payloads[label], 200)  # warm up
                times: dict[str, list[float]] = {"predict": [], "classify": []}
                for index in range(args.rounds):
                    order = ("predict", "classify") if index % 2 == 0 else ("classify", "predict")
                    for label in order:
                        times[label] += timed_calls(calls[label], payloads[label], args.requests)
                predict, classify = statistics.median(times["predict"]), statistics.median(times["classify"])
                print(
                    f"batch {batch}: p50 Predict {predict:.1f} us, Classify {classify:.1f} us "
                    f"({(classify / predict - 1) * 100:+.1f}%, {classify - predict:+.1f} us); "
                    f"request bytes {len(payloads['predict'])} vs {len(payloads['classify'])}"
                )
            print(f"load after: {os.getloadavg()[0]:.2f}")
            channel.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
