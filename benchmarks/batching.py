"""Server-side batching, measured side by side: for each model, a server without batching, one
with it (`--batching`, AWS's SageMaker defaults: max_batch_size 8, batch_timeout_micros 1000,
num_batch_threads the CPUs), one with a 5 ms timeout and one with allowed_batch_sizes, run at
the same time and are loaded in alternating rounds by the closed-loop generator
(benchmarks/loadgen.py, gRPC Predict, batch-1 requests): throughput at 32 and at 4 clients and
the mean batch size at 32 clients (from the server's processed_batch_size metric); then p50 at
one client, the servers taking turns in short rounds (one_client_p50). First, OpenVINO in
process: rows/s of each model at batch 8 against batch 1 (the most batching could give).

Models (benchmarks/models.py): mlp and wide_mlp (matrix-heavy, 1024 and 2048 wide, a static
batch 1 made dynamic by batching) and cnn (convolution-heavy, ResNet-18-like). Writes the
figures as markdown to --report.
usage: python -m benchmarks.batching [--rounds 3] [--seconds 8] [--report benchmarks/BATCHING.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import numpy as np
import openvino as ov

from benchmarks import models
from benchmarks.loadgen import Spec
from ie_serving.compile_policy import CPU_DEFAULTS
from ie_serving.protos.tensorflow_serving.apis import predict_pb2
from ie_serving.tensor_proto import to_proto
from tests.rest_helpers import metrics_flags, processed_batch_counts
from tests.server import ServerProcess

PREDICT = "/tensorflow.serving.PredictionService/Predict"
BATCHING = {"max_batch_size": 8, "batch_timeout_micros": 1000}  # AWS's defaults
# the servers compared: no batching, AWS's defaults (a dynamic batch), a 5 ms timeout, and
# AWS's defaults with allowed_batch_sizes (batches padded to a size compiled as a static copy)
VARIANTS = {
    "off": [],
    "on": ["--batching", json.dumps(BATCHING)],
    "on 5ms": ["--batching", json.dumps({**BATCHING, "batch_timeout_micros": 5000})],
    "on+sizes": ["--batching", json.dumps({**BATCHING, "allowed_batch_sizes": [1, 2, 4, 8]})],
}
P50_ROUNDS = 10  # one-client rounds, each server about a second per round


def inproc_rows_per_second(model_xml: pathlib.Path, batch: int, seconds: float) -> float:
    """Rows/s of OpenVINO alone: the model compiled for a static batch of `batch` (its best
    case) with the server's CPU defaults, OPTIMAL_NUMBER_OF_INFER_REQUESTS threads each inferring
    back to back on its own infer request."""
    core = ov.Core()
    model = core.read_model(str(model_xml))
    shape = [batch, *(d.get_length() for d in list(model.inputs[0].get_partial_shape())[1:])]
    model.reshape({model.inputs[0]: ov.PartialShape(shape)})
    compiled = core.compile_model(model, "CPU", dict(CPU_DEFAULTS))
    sample = np.random.default_rng(0).random(shape, dtype=np.float32)
    counts: list[int] = []
    requests = [
        compiled.create_infer_request() for _ in range(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    ]
    for request in requests:
        request.infer({0: sample})  # warm up
    stop_at = time.perf_counter() + seconds

    def worker(request: ov.InferRequest) -> None:
        done = 0
        while time.perf_counter() < stop_at:
            request.infer({0: sample}, share_inputs=True)
            done += 1
        counts.append(done)

    threads = [threading.Thread(target=worker, args=(request,)) for request in requests]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) * batch / (time.perf_counter() - started)


def load(server: ServerProcess, body: pathlib.Path, concurrency: int, seconds: float, work: pathlib.Path) -> dict:
    """One loadgen point (its own process) against one server."""
    spec = Spec("grpc", server.address, PREDICT, str(body), concurrencies=[concurrency], warmup=2.0, seconds=seconds)
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(dataclasses.asdict(spec)))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadgen", str(spec_path)], stdout=subprocess.PIPE, text=True, check=True
    ).stdout
    return json.loads(out.splitlines()[-1])


def one_client_p50(servers: dict[str, ServerProcess], body: bytes, rounds: int) -> dict[str, list[float]]:
    """Per server, the p50 (ms) of one client's sequential Predict calls in each of `rounds`
    rounds; in a round the servers take turns (the order alternating), each for about a second,
    so a machine that drifts favours none. A plain grpcio client in this process, raw bytes."""
    channels = {label: grpc.insecure_channel(server.address) for label, server in servers.items()}
    calls = {label: channel.unary_unary(PREDICT) for label, channel in channels.items()}
    try:
        warm = []
        for call in calls.values():
            for _ in range(20):
                started = time.perf_counter()
                call(body, timeout=60)
                warm.append(time.perf_counter() - started)
        count = max(20, min(500, int(1.0 / statistics.median(warm))))
        p50s: dict[str, list[float]] = {label: [] for label in calls}
        for index in range(rounds):
            for label in list(calls) if index % 2 == 0 else list(calls)[::-1]:
                times = []
                for _ in range(count):
                    started = time.perf_counter()
                    calls[label](body, timeout=60)
                    times.append(time.perf_counter() - started)
                p50s[label].append(statistics.median(times) * 1e3)
        return p50s
    finally:
        for channel in channels.values():
            channel.close()


def measure_model(name: str, work: pathlib.Path, rounds: int, seconds: float) -> dict:
    base = models.write(name, work / "models")
    xml = base / "1" / "model.xml"
    inproc = {batch: inproc_rows_per_second(xml, batch, seconds / 2) for batch in (1, 8)}
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.inputs[models.INPUT].CopyFrom(to_proto(models.sample(name)))
    body = work / f"{name}.bin"
    body.write_bytes(request.SerializeToString())
    servers, rest_ports = {}, {}
    for label, extra in VARIANTS.items():
        metrics, rest_ports[label] = metrics_flags(work)
        args = ["model", "--model_name", name, "--model_path", str(base), *extra, *metrics]
        servers[label] = ServerProcess(args, work / f"{name}-{label}.log", {"LOG_LEVEL": "INFO"})
    try:
        for server in servers.values():
            server.wait_ready(300)
        figures: dict[str, dict[str, list[float]]] = {
            label: {"rps32": [], "rps4": [], "p50_1": [], "errors": [], "rows": [], "batches": []} for label in servers
        }
        for index in range(rounds):
            order = list(servers) if index % 2 == 0 else list(servers)[::-1]
            for label in order:
                before = processed_batch_counts(rest_ports[label])
                point = load(servers[label], body, 32, seconds, work)
                after = processed_batch_counts(rest_ports[label])
                figures[label]["rps32"].append(point["throughput"])
                figures[label]["rows"].append(after.get("sum", 0.0) - before.get("sum", 0.0))
                figures[label]["batches"].append(after.get("count", 0.0) - before.get("count", 0.0))
                middle = load(servers[label], body, 4, seconds / 2, work)
                figures[label]["rps4"].append(middle["throughput"])
                figures[label]["errors"].append(point["errors"] + middle["errors"])
                print(
                    f"{name} round {index + 1} batching {label}: {point['throughput']:.1f} req/s at 32 clients "
                    f"(p50 {point['p50']:.1f} ms), {middle['throughput']:.1f} at 4",
                    flush=True,
                )
        for label, p50s in one_client_p50(servers, body.read_bytes(), P50_ROUNDS).items():
            figures[label]["p50_1"] = p50s
        compiled = [
            line for line in servers["on+sizes"].log().splitlines() if "batching on" in line or "static copies" in line
        ]
        hints = {label: "LATENCY" if "LATENCY" in server.log() else "THROUGHPUT" for label, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    return {
        "inproc": inproc,
        "figures": figures,
        "log": "; ".join(line.split("ie_serving.engine: ")[-1] for line in compiled),
        "hints": hints,
    }


def _ratio(figures: dict, key: str, label: str) -> str:
    value = statistics.mean(figures[label][key])
    if label == "off":
        return f"{value:.1f}"
    return f"{value:.1f} ({value / statistics.mean(figures['off'][key]):.2f}x)"


def report(results: dict, loads: list[list[float]], rounds: int, seconds: float) -> str:
    labels = list(VARIANTS)
    lines = [
        "# Server-side batching: measured",
        "",
        f"{datetime.date.today()}, `make bench_batching` (benchmarks/batching.py): {os.cpu_count()} CPUs, "
        f"load average (1, 5, 15 min) before {loads[0]} and after {loads[1]}. The servers of a model ran at "
        f"the same time and were loaded in {rounds} alternating rounds (gRPC Predict, batch-1 requests, closed "
        f"loop; {seconds:.0f} s at 32 clients, {seconds / 2:.0f} s at 4): `off` without batching, `on` "
        f"with AWS's SageMaker defaults {json.dumps(BATCHING)} (num_batch_threads the CPUs; batches run on the "
        "dynamic-batch model), `on 5ms` the same with batch_timeout_micros 5000, `on+sizes` AWS's defaults "
        "with allowed_batch_sizes [1, 2, 4, 8] (batches padded to those sizes, each compiled as a static "
        "copy). Mean batch: rows per batch run at 32 clients (processed_batch_size). p50 1 client: one "
        f"sequential grpcio client, {P50_ROUNDS} rounds in which the servers take turns for about a second "
        "each; the median of the rounds' p50s, and in brackets the median of the rounds' differences from "
        "`off`. OpenVINO in process: rows/s at a static batch of 1 and 8.",
        "",
        "| model | OpenVINO rows/s batch 1 | batch 8 | variant | req/s 32 clients | mean batch | req/s 4 clients "
        "| p50 1 client |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        inproc, figures = result["inproc"], result["figures"]
        p_off = figures["off"]["p50_1"]
        for label in labels:
            rows, batches = sum(figures[label]["rows"]), sum(figures[label]["batches"])
            mean_batch = f"{rows / batches:.1f}" if batches else "-"
            p50s = figures[label]["p50_1"]
            change = statistics.median(mine - off for mine, off in zip(p50s, p_off, strict=True))
            p50_text = f"{statistics.median(p50s):.2f} ms" + ("" if label == "off" else f" ({change:+.2f})")
            head = f"| {name} | {inproc[1]:.0f} | {inproc[8]:.0f} ({inproc[8] / inproc[1]:.2f}x)"
            if label != "off":
                head = "| | | "
            lines.append(
                f"{head} | {label} | {_ratio(figures, 'rps32', label)} | {mean_batch} | "
                f"{_ratio(figures, 'rps4', label)} | {p50_text} |"
            )
    lines += ["", "Per round, req/s at 32 clients (" + " / ".join(labels) + "):", ""]
    for name, result in results.items():
        figures = result["figures"]
        per_round = zip(*(figures[label]["rps32"] for label in labels), strict=True)
        rounds_text = ", ".join(" / ".join(f"{value:.1f}" for value in values) for values in per_round)
        errors = sum(sum(figures[label]["errors"]) for label in labels)
        hints = ", ".join(f"{label} {hint}" for label, hint in result["hints"].items())
        lines.append(
            f"- {name}: {rounds_text}; failed requests: {errors}; PERFORMANCE_HINT: {hints}; `on+sizes` logged: "
            f"{result['log']}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--models", nargs="+", default=["mlp", "wide_mlp", "cnn"])
    parser.add_argument("--report", type=pathlib.Path, default=None)
    args = parser.parse_args()
    loads = [list(os.getloadavg())]
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: measure_model(name, pathlib.Path(tmp), args.rounds, args.seconds) for name in args.models}
    loads.append(list(os.getloadavg()))
    text = report(results, [[round(v, 2) for v in load] for load in loads], args.rounds, args.seconds)
    print(text)
    if args.report:
        args.report.write_text(text)


if __name__ == "__main__":
    main()
