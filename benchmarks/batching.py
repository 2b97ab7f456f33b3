"""Server-side batching, measured side by side: for each model, a server without batching, one
with it (`--batching`, AWS's SageMaker defaults: max_batch_size 8, batch_timeout_micros 1000,
num_batch_threads the CPUs) and one with allowed_batch_sizes too, run at the same time and are
loaded in alternating rounds by the closed-loop generator (benchmarks/loadgen.py, gRPC
Predict, batch-1 requests): throughput at 32 clients and p50 at one client. First, OpenVINO
in process: rows/s of each model at batch 8 against batch 1 (the most batching could give).

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

import numpy as np
import openvino as ov

from benchmarks import models
from benchmarks.loadgen import Spec
from ie_serving.compile_policy import CPU_DEFAULTS
from ie_serving.protos.tensorflow_serving.apis import predict_pb2
from ie_serving.tensor_proto import to_proto
from tests.server import ServerProcess

PREDICT = "/tensorflow.serving.PredictionService/Predict"
BATCHING = {"max_batch_size": 8, "batch_timeout_micros": 1000}  # AWS's defaults
# the servers compared: no batching, AWS's defaults (a dynamic batch), and the same with
# allowed_batch_sizes (batches padded to a size compiled as a static copy)
VARIANTS = {
    "off": [],
    "on": ["--batching", json.dumps(BATCHING)],
    "on+sizes": ["--batching", json.dumps({**BATCHING, "allowed_batch_sizes": [1, 2, 4, 8]})],
}


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


def measure_model(name: str, work: pathlib.Path, rounds: int, seconds: float) -> dict:
    base = models.write(name, work / "models")
    xml = base / "1" / "model.xml"
    inproc = {batch: inproc_rows_per_second(xml, batch, seconds / 2) for batch in (1, 8)}
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.inputs[models.INPUT].CopyFrom(to_proto(models.sample(name)))
    body = work / f"{name}.bin"
    body.write_bytes(request.SerializeToString())
    servers = {}
    for label, extra in VARIANTS.items():
        args = ["model", "--model_name", name, "--model_path", str(base), *extra]
        servers[label] = ServerProcess(args, work / f"{name}-{label}.log", {"LOG_LEVEL": "INFO"})
    try:
        for server in servers.values():
            server.wait_ready(300)
        figures: dict[str, dict[str, list[float]]] = {
            label: {"rps32": [], "p50_1": [], "errors": []} for label in servers
        }
        for index in range(rounds):
            order = list(servers) if index % 2 == 0 else list(servers)[::-1]
            for label in order:
                point = load(servers[label], body, 32, seconds, work)
                figures[label]["rps32"].append(point["throughput"])
                figures[label]["errors"].append(point["errors"])
                single = load(servers[label], body, 1, seconds / 2, work)
                figures[label]["p50_1"].append(single["p50"])
                print(
                    f"{name} round {index + 1} batching {label}: {point['throughput']:.1f} req/s at 32 clients "
                    f"(p50 {point['p50']:.1f} ms), p50 {single['p50']:.2f} ms at 1 client",
                    flush=True,
                )
        compiled = [
            line for line in servers["on+sizes"].log().splitlines() if "batching on" in line or "static copies" in line
        ]
    finally:
        for server in servers.values():
            server.stop()
    return {
        "inproc": inproc,
        "figures": figures,
        "log": "; ".join(line.split("ie_serving.engine: ")[-1] for line in compiled),
    }


def report(results: dict, loads: list[list[float]], rounds: int, seconds: float) -> str:
    lines = [
        "# Server-side batching: measured",
        "",
        f"{datetime.date.today()}, `make bench_batching` (benchmarks/batching.py): {os.cpu_count()} CPUs, "
        f"load average (1, 5, 15 min) before {loads[0]} and after {loads[1]} (other work shared the machine). "
        f"The three servers of a model ran at the same time and were loaded in {rounds} alternating rounds of "
        f"{seconds:.0f} s (gRPC Predict, batch-1 requests, closed loop): `off` without batching, `on` with "
        f"AWS's SageMaker defaults {json.dumps(BATCHING)} (num_batch_threads the CPUs; batches run on the "
        "dynamic-batch model), `on+sizes` the same with allowed_batch_sizes [1, 2, 4, 8] (batches padded to "
        "those sizes, each compiled as a static copy). OpenVINO in process: rows/s at a static batch of 1 and 8.",
        "",
        "| model | OpenVINO rows/s batch 1 | batch 8 | ratio | req/s 32 clients: off | on | on+sizes "
        "| p50 1 client: off | on | on+sizes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        inproc, figures = result["inproc"], result["figures"]
        off = statistics.mean(figures["off"]["rps32"])
        rps = " | ".join(
            f"{statistics.mean(figures[label]['rps32']):.1f}"
            + ("" if label == "off" else f" ({statistics.mean(figures[label]['rps32']) / off:.2f}x)")
            for label in VARIANTS
        )
        p_off = statistics.median(figures["off"]["p50_1"])
        p50 = " | ".join(
            f"{statistics.median(figures[label]['p50_1']):.2f} ms"
            + ("" if label == "off" else f" ({statistics.median(figures[label]['p50_1']) - p_off:+.2f})")
            for label in VARIANTS
        )
        lines.append(f"| {name} | {inproc[1]:.0f} | {inproc[8]:.0f} | {inproc[8] / inproc[1]:.2f}x | {rps} | {p50} |")
    lines += ["", "Per round, req/s at 32 clients (" + " / ".join(VARIANTS) + "):", ""]
    for name, result in results.items():
        figures = result["figures"]
        per_round = zip(*(figures[label]["rps32"] for label in VARIANTS), strict=True)
        rounds_text = ", ".join(" / ".join(f"{value:.1f}" for value in values) for values in per_round)
        errors = sum(sum(figures[label]["errors"]) for label in VARIANTS)
        lines.append(f"- {name}: {rounds_text}; failed requests: {errors}; `on+sizes` logged: {result['log']}")
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
