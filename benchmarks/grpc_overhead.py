"""Predict round trip of this server next to a bare grpcio echo of the same bytes.

Both run on loopback in the same run with the same client; the figure that matters is the
ratio. usage: python benchmarks/grpc_overhead.py [--requests 300]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile
import time
from concurrent import futures

import grpc
import numpy as np

from ie_serving.protos.tensorflow_serving.apis import predict_pb2
from ie_serving.tensor_proto import to_proto
from tests import models
from tests.server import ServerProcess, free_port

PREDICT = "/tensorflow.serving.PredictionService/Predict"


def echo_server(port: int) -> grpc.Server:
    """A grpcio server that answers Predict with the request's own bytes."""
    handler = grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService",
        {"Predict": grpc.unary_unary_rpc_method_handler(lambda request, context: request)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(4), options=[("grpc.max_receive_message_length", 64 << 20)])
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server


def median_ms(address: str, payload: bytes, requests: int) -> float:
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        call = channel.unary_unary(PREDICT)
        for _ in range(20):
            call(payload, timeout=30)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            call(payload, timeout=30)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = pathlib.Path(tmp) / "tiny"
        models.save(models.scale_model(2.0, [1, 3, 224, 224]), base)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "tiny"
        x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
        request.inputs["x"].CopyFrom(to_proto(x))
        payload = request.SerializeToString()
        server = ServerProcess(
            ["model", "--model_name", "tiny", "--model_path", str(base)],
            pathlib.Path(tmp) / "log",
            {"LOG_LEVEL": "INFO"},
        )
        server.wait_ready()
        echo_port = free_port()
        echo = echo_server(echo_port)
        try:
            rounds = [
                (
                    median_ms(server.address, payload, args.requests),
                    median_ms(f"127.0.0.1:{echo_port}", payload, args.requests),
                )
                for _ in range(3)
            ]
        finally:
            echo.stop(0)
            server.stop()
    serve = statistics.median(r[0] for r in rounds)
    bare = statistics.median(r[1] for r in rounds)
    print(f"payload {len(payload)} bytes, {args.requests} requests x 3 rounds, one client, loopback")
    print(f"ie_serving Predict median {serve:.3f} ms; bare grpcio echo median {bare:.3f} ms; ratio {serve / bare:.2f}")


if __name__ == "__main__":
    main()
