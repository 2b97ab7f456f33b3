"""The cost of Prometheus metrics on the tiny model's gRPC Predict: two servers side by side,
one started with --monitoring_config_file and one without, both with a REST port (the same
gunicorn hosting), called in alternating rounds by one sequential client on loopback.

Prints each round's p50 and the p50 over all requests of each server. The target
(docs/performance.md): metrics on within 2% of metrics off.
usage: python benchmarks/metrics_overhead.py [--rounds 10] [--requests 2000]
"""

from __future__ import annotations

import argparse
import datetime
import pathlib
import statistics
import tempfile
import time

import grpc
import requests

from benchmarks import models
from ie_serving.protos.tensorflow_serving.apis import predict_pb2
from ie_serving.tensor_proto import to_proto
from tests.processes import free_port
from tests.server import ServerProcess

PREDICT = "/tensorflow.serving.PredictionService/Predict"
PATH = "/monitoring/prometheus/metrics"


def timed_calls(call, payload: bytes, count: int) -> list[float]:
    """Microseconds of each of `count` sequential calls of a unary gRPC method with `payload`."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call(payload, timeout=30)
        times.append((time.perf_counter() - started) * 1e6)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000, help="requests per server per round")
    parser.add_argument(
        "--control", action="store_true", help="A/A: both servers without metrics, to see the noise between two"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        base = models.write("tiny", root)
        config = root / "monitoring.config"
        config.write_text(f'prometheus_config {{ enable: true, path: "{PATH}" }}')
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "tiny"
        request.inputs[models.INPUT].CopyFrom(to_proto(models.sample("tiny")))
        payload = request.SerializeToString()
        servers, rest_ports = {}, {}
        on_flags = [] if args.control else ["--monitoring_config_file", str(config)]
        for label, extra in (("off", []), ("on", on_flags)):
            rest_ports[label] = free_port()
            args_ = ["model", "--model_name", "tiny", "--model_path", str(base)]
            args_ += ["--rest_port", str(rest_ports[label]), *extra]
            servers[label] = ServerProcess(args_, root / f"{label}.log", {"LOG_LEVEL": "INFO"}).wait_ready(120)
        try:
            channels = {label: grpc.insecure_channel(server.address) for label, server in servers.items()}
            calls = {label: channel.unary_unary(PREDICT) for label, channel in channels.items()}
            for call in calls.values():
                timed_calls(call, payload, 500)  # warm up
            times: dict[str, list[float]] = {"off": [], "on": []}
            print(f"{datetime.date.today()}: {args.rounds} rounds x {args.requests} requests per server, alternating")
            for index in range(args.rounds):
                order = ("off", "on") if index % 2 == 0 else ("on", "off")
                medians = {}
                for label in order:
                    got = timed_calls(calls[label], payload, args.requests)
                    times[label] += got
                    medians[label] = statistics.median(got)
                print(
                    f"round {index + 1}: p50 off {medians['off']:.1f} us, on {medians['on']:.1f} us "
                    f"({(medians['on'] / medians['off'] - 1) * 100:+.1f}%)"
                )
            scraped = (
                "" if args.control else requests.get(f"http://127.0.0.1:{rest_ports['on']}{PATH}", timeout=10).text
            )
            counted = [line for line in scraped.splitlines() if line.startswith(":tensorflow:serving:request_count{")]
            off, on = statistics.median(times["off"]), statistics.median(times["on"])
            off90 = statistics.quantiles(times["off"], n=10)[-1]
            on90 = statistics.quantiles(times["on"], n=10)[-1]
            print(f"all rounds: p50 off {off:.1f} us, on {on:.1f} us ({(on / off - 1) * 100:+.2f}%)")
            print(f"all rounds: p90 off {off90:.1f} us, on {on90:.1f} us ({(on90 / off90 - 1) * 100:+.2f}%)")
            print(f"metrics-on server counted: {counted}")
            for channel in channels.values():
                channel.close()
        finally:
            for server in servers.values():
                server.stop()


if __name__ == "__main__":
    main()
