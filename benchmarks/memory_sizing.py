"""Measure the server's memory per model version against the size of the version's .bin file.

For each size, writes a model of dense layers (float32 weights) as OpenVINO IR, starts
`python -m ie_serving model` on it (gRPC only: one process), waits until it answers, sends a
few predicts, and reads the process's VmRSS, RssAnon and RssFile from /proc/PID/status. A
model with one tiny layer gives the baseline of the server itself.

    .venv/bin/python benchmarks/memory_sizing.py --sizes_mb 4 32 128 256

Prints a Markdown table (the one in docs/memory_sizing.md). Linux only (/proc).
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

import grpc
import numpy as np
import openvino as ov
from openvino import opset13 as ops

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "example_client"))
from common import Client  # noqa: E402  (the example client's gRPC helper)

WIDTH = 1024  # one layer is a WIDTH x WIDTH float32 matrix: 4 MiB


def dense_model(layers: int, width: int = WIDTH) -> ov.Model:
    """x f32 [-1, width] -> `layers` x (matmul with a random matrix, relu) -> y."""
    rng = np.random.default_rng(0)
    x = ops.parameter([-1, width], np.float32, name="x")
    node = x
    for _ in range(layers):
        weights = ops.constant(rng.standard_normal((width, width)).astype(np.float32) / width**0.5)
        node = ops.relu(ops.matmul(node, weights, False, False))
    node.output(0).get_tensor().set_names({"y"})
    return ov.Model([node], [x], f"dense{layers}")


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0])
    return fields


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(base_path: pathlib.Path, width: int, requests: int, extra: list[str]) -> tuple[dict, dict, float]:
    """(RSS after load, RSS after predicts, load seconds) of one server process."""
    port = free_port()
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "ie_serving", "model", "--model_name", "m", "--model_path", str(base_path)]
        + ["--port", str(port), "--file_system_poll_wait_seconds", "0", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=300)
        load_seconds = time.monotonic() - started
        time.sleep(1)
        loaded = rss_kib(server.pid)
        args = argparse.Namespace(
            model_name="m", model_version=None, grpc_address=f"127.0.0.1:{port}", timeout=60.0, protocol="grpc"
        )
        client = Client(args)
        batch = np.ones((1, width), dtype=np.float32)
        for _ in range(requests):
            client.predict({"x": batch})
        return loaded, rss_kib(server.pid), load_seconds
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes_mb", type=int, nargs="+", default=[4, 32, 128, 256], help="weight sizes to try, multiples of 4 MiB"
    )
    parser.add_argument("--requests", type=int, default=5, help="predicts sent before the second reading (default 5)")
    parser.add_argument(
        "--plugin_config", default=None, help="--plugin_config passed to the server, e.g. a precision hint"
    )
    args = parser.parse_args()
    extra = ["--plugin_config", args.plugin_config] if args.plugin_config else []
    print(f"server flags: {' '.join(extra) or '(defaults)'}")
    print("| .bin size | RSS after load | RSS after predicts | RssAnon | RssFile | RSS minus baseline | load time |")
    print("|---|---|---|---|---|---|---|")
    baseline = None
    with tempfile.TemporaryDirectory() as tmp:
        for size in [0, *args.sizes_mb]:
            layers, width = (1, 16) if size == 0 else (size // 4, WIDTH)
            target = pathlib.Path(tmp, f"m{size}", "1", "model.xml")
            ov.save_model(dense_model(layers, width), str(target), compress_to_fp16=False)
            bin_mib = target.with_suffix(".bin").stat().st_size / 2**20
            loaded, used, seconds = measure(target.parent.parent, width, args.requests, extra)
            baseline = used["VmRSS"] if baseline is None else baseline
            over = (used["VmRSS"] - baseline) / 1024
            print(
                f"| {bin_mib:.1f} MiB | {loaded['VmRSS'] / 1024:.0f} MiB | {used['VmRSS'] / 1024:.0f} MiB "
                f"| {used['RssAnon'] / 1024:.0f} MiB | {used['RssFile'] / 1024:.0f} MiB "
                f"| {over:.0f} MiB ({over / bin_mib if size else 0:.2f} x .bin) | {seconds:.1f} s |",
                flush=True,
            )


if __name__ == "__main__":
    main()
