"""The same SavedModel (Keras MobileNetV2, random weights) run by TensorFlow in-process (best of
1, 2 and 4 callers: TF Serving's ceiling on this machine) and by this server over gRPC with the
same callers, at f32 and at OpenVINO's default CPU precision, with the accuracy of each
against TensorFlow's answer. usage: python -m benchmarks.tf_vs_server [--seconds 10]"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import tempfile
import threading
import time
from collections.abc import Callable

import grpc
import numpy as np

from benchmarks.loadgen import GRPC_OPTIONS
from benchmarks.payloads import PREDICT_METHOD
from ie_serving.compile_policy import CPU_DEFAULTS
from ie_serving.protos.tensorflow_serving.apis import predict_pb2
from ie_serving.tensor_proto import to_proto
from tests.framework_envs import run_tf
from tests.grpc_client import RawClient
from tests.rest_helpers import write_config
from tests.server import ServerProcess

PRECISIONS = {
    "f32": {"INFERENCE_PRECISION_HINT": "f32"},
    "OpenVINO default (bf16 here)": {"INFERENCE_PRECISION_HINT": "bf16"},
}


def closed_loop(callers: int, seconds: float, call: Callable[[int], None]) -> float:
    """Calls per second from `callers` threads each calling call(index) back to back."""
    counts = [0] * callers
    end = time.perf_counter() + seconds

    def loop(index: int) -> None:
        while time.perf_counter() < end:
            call(index)
            counts[index] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(callers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def server_throughput(address: str, inputs: dict, seconds: float) -> dict[int, float]:
    """Inferences per second over gRPC with 1, 2 and 4 closed-loop callers, one channel each,
    sending one request serialized in advance (the callers share the server's 2 cores)."""
    batch = next(iter(inputs.values())).shape[0]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mobilenet"
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(to_proto(array))
    body = request.SerializeToString()
    results = {}
    for callers in (1, 2, 4):
        channels = [grpc.insecure_channel(address, options=GRPC_OPTIONS) for _ in range(callers)]
        calls = [channel.unary_unary(PREDICT_METHOD) for channel in channels]
        rate = closed_loop(callers, seconds, lambda i, c=calls: c[i](body, timeout=60))
        results[callers] = rate * batch
        for channel in channels:
            channel.close()
    return results


def openvino_throughput(saved_model: pathlib.Path, plugin: dict, inputs: dict, seconds: float) -> dict[int, float]:
    """OpenVINO in this process on the same SavedModel with the server's properties and, as the
    server does for batch-1 requests, a static batch of 1: 1, 2 and 4 callers, each with its own
    infer request (the ceiling any OpenVINO server reaches here)."""
    import openvino as ov

    array = next(iter(inputs.values()))
    core = ov.Core()
    model = core.read_model(str(saved_model))
    model.reshape({0: list(array.shape)})
    compiled = core.compile_model(model, "CPU", {**CPU_DEFAULTS, **plugin})
    results = {}
    for callers in (1, 2, 4):
        requests = [compiled.create_infer_request() for _ in range(callers)]
        results[callers] = closed_loop(callers, seconds, lambda i, r=requests: r[i].infer({0: array}))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="per caller count")
    parser.add_argument("--report", type=pathlib.Path, help="also write the figures as Markdown to this file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        run_tf("make_tf_models.py", str(root))
        with np.load(root / "mobilenet.npz") as data:
            batch, tf_answer = {"image": data["in_image"]}, data["out_output_0"]
        inputs = {"image": batch["image"][:1]}
        np.savez(root / "one.npz", **inputs)
        tf_rates = json.loads(
            run_tf("tf_throughput.py", str(root / "mobilenet" / "1"), str(root / "one.npz"), str(args.seconds)).stdout
        )
        tf_ceiling = max(tf_rates.values())
        print(f"TensorFlow in-process, batch 1: {json.dumps({k: round(v, 1) for k, v in tf_rates.items()})} inf/s")
        rows.append(["TensorFlow in-process (TF Serving's ceiling)", *tf_rates.values(), 1.0, "reference", "-"])
        for label, plugin in PRECISIONS.items():
            ceiling = openvino_throughput(root / "mobilenet" / "1", plugin, inputs, args.seconds)
            print(f"OpenVINO in-process {label}: {json.dumps({str(k): round(v, 1) for k, v in ceiling.items()})} inf/s")
            best_ov = max(ceiling.values())
            rows.append(
                [
                    f"OpenVINO in-process, {label} (any server's ceiling)",
                    *ceiling.values(),
                    best_ov / tf_ceiling,
                    "-",
                    "-",
                ]
            )
            config = write_config(
                root / "config.json",
                [{"name": "mobilenet", "base_path": str(root / "mobilenet"), "plugin_config": plugin}],
            )
            server = ServerProcess(["config", "--config_path", str(config)], root / "log", {"LOG_LEVEL": "INFO"})
            server.wait_ready(timeout=300)
            try:
                client = RawClient(server.address)
                answer = client.predict("mobilenet", batch)[1]["output_0"]
                client.close()
                rates = server_throughput(server.address, inputs, args.seconds)
            finally:
                server.stop()
            best = max(rates.values())
            print(
                f"ie_serving gRPC {label}: {json.dumps({str(k): round(v, 1) for k, v in rates.items()})} inf/s, "
                f"best {best / tf_ceiling:.2f}x TensorFlow's best ({tf_ceiling:.1f} inf/s)"
            )
            difference = float(np.abs(answer - tf_answer).max())
            spread = float(tf_answer.max() - tf_answer.min())
            print(f"  max |ie_serving - TensorFlow| {difference:.2e}; TensorFlow's outputs span {spread:.2e}")
            target = 2.0 if label == "f32" else 3.5
            met = "yes" if best / tf_ceiling >= target else "**no**"
            rows.append(
                [
                    f"ie_serving gRPC, {label}",
                    *rates.values(),
                    best / tf_ceiling,
                    f"{difference:.1e}",
                    f">= {target} x: {met}",
                ]
            )
    if args.report:
        args.report.write_text(report(rows, args.seconds, spread))


def report(rows: list, seconds: float, spread: float) -> str:
    """The figures as Markdown: inferences per second by callers, ratio to TensorFlow's best."""
    lines = [
        "# TensorFlow in-process against this server, one SavedModel",
        "",
        "Written by `make bench_tf` (`python -m benchmarks.tf_vs_server`); do not edit by hand.",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}, {os.cpu_count()} cores",
        f"- model: Keras MobileNetV2 (weights=None, random batch-norm statistics), batch 1, {seconds:g} s per point,",
        "  closed-loop callers (threads; the server's callers use gRPC, one channel each)",
        f"- accuracy: largest |answer - TensorFlow's| on 2 images; TensorFlow's logits span {spread:.2f}",
        "",
        "| runtime | 1 caller inf/s | 2 callers | 4 callers | best / TF best | max abs diff | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, one, two, four, ratio, diff, target in rows:
        lines.append(f"| {name} | {one:.1f} | {two:.1f} | {four:.1f} | {ratio:.2f} | {diff} | {target} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
