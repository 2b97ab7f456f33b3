"""Measure the effect of the tuning settings in docs/performance_tuning.md on this machine.

For each setting, starts `python -m ie_serving model` on the demo model (gRPC only), sends
gRPC Predict requests (batch 1, float32 [1,3,224,224]) from C client threads for D seconds
after a warm-up, and prints requests per second, median and 95th-percentile latency, and the
nireq and precision the server logged. The client runs on the same machine and takes CPU
too, so figures are comparisons between settings, not capacity numbers.

    .venv/bin/python docs/measure_tuning.py --seconds 8 --clients 4
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "example_client"))
from common import Client  # noqa: E402  (the example client's gRPC helper)

SETTINGS = {
    "default (THROUGHPUT, f32)": [],
    "PERFORMANCE_HINT LATENCY": ["--plugin_config", json.dumps({"PERFORMANCE_HINT": "LATENCY"})],
    "THROUGHPUT, NUM_STREAMS 1": ["--plugin_config", json.dumps({"NUM_STREAMS": 1})],
    "INFERENCE_NUM_THREADS 1": ["--plugin_config", json.dumps({"INFERENCE_NUM_THREADS": 1})],
    "nireq 1": ["--nireq", "1"],
    "bf16 precision": ["--plugin_config", json.dumps({"INFERENCE_PRECISION_HINT": "bf16"})],
    "grpc_workers 2": ["--grpc_workers", "2"],
}


def run(base_path: pathlib.Path, flags: list[str], clients: int, seconds: float) -> dict:
    port = free_port()
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "ie_serving", "model", "--model_name", "demo", "--model_path", str(base_path)]
            + ["--port", str(port), "--file_system_poll_wait_seconds", "0", *flags],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                grpc.channel_ready_future(channel).result(timeout=120)
            args = argparse.Namespace(
                model_name="demo", model_version=None, grpc_address=f"127.0.0.1:{port}", timeout=60.0
            )
            image = {"input": np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)}
            # one request alone first: concurrent first requests can deadlock a fresh server
            # inside OpenVINO's Python binding (seen 2 times in 7 starts; see troubleshooting.md)
            Client(args, "grpc").predict(image)
            latencies: list[float] = []
            stop = time.monotonic() + 1 + seconds

            def worker() -> None:
                client = Client(args, "grpc")
                warm_until = time.monotonic() + 1
                while (now := time.monotonic()) < stop:
                    client.predict(image)
                    if now > warm_until:
                        latencies.append(time.monotonic() - now)

            threads = [threading.Thread(target=worker) for _ in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            logged = re.search(r"precision (\S+), nireq (\d+)", pathlib.Path(log.name).read_text())
            ms = np.array(latencies) * 1000
            return {
                "rps": len(ms) / seconds,
                "p50": float(np.percentile(ms, 50)),
                "p95": float(np.percentile(ms, 95)),
                "precision": logged.group(1) if logged else "?",
                "nireq": logged.group(2) if logged else "?",
            }
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per setting (default 8)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="client thread counts (default 1 4)")
    args = parser.parse_args()
    from ie_serving.demo import write_demo_model

    with tempfile.TemporaryDirectory() as tmp:
        base_path = pathlib.Path(tmp, "demo")
        write_demo_model(base_path)
        print("| setting | clients | requests/s | p50 ms | p95 ms | nireq | precision |")
        print("|---|---|---|---|---|---|---|")
        for clients in args.clients:
            for name, flags in SETTINGS.items():
                r = run(base_path, flags, clients, args.seconds)
                print(
                    f"| {name} | {clients} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} "
                    f"| {r['nireq']} | {r['precision']} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
