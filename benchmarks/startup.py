"""Start-up figures of this server: process start to first successful Predict on `tiny`,
resident memory after load, and the time to load 50 small models from one config file."""

from __future__ import annotations

import json
import pathlib
import shutil
import statistics
import sys

from benchmarks import models, payloads
from benchmarks.processes import Process, call_once, free_port, rss_mib

LOAD_REQUESTS = 200


def _ie_serving(name: str, args: list[str], logs: pathlib.Path, rest: bool = False) -> tuple[Process, str]:
    """`ie_serving ARGS` on a free gRPC port (and a REST port: gunicorn master + worker)."""
    port = free_port()
    extra = ["--rest_port", str(free_port())] if rest else []
    argv = [sys.executable, "-m", "ie_serving", *args, "--port", str(port), *extra]
    return Process(name, argv, logs, {"LOG_LEVEL": "INFO"}), f"127.0.0.1:{port}"


def first_predict_and_rss(tiny_base: pathlib.Path, logs: pathlib.Path, rest: bool) -> tuple[float, float]:
    """(seconds from process start to the first answered Predict, RSS MiB after LOAD_REQUESTS)."""
    args = ["model", "--model_name", "tiny", "--model_path", str(tiny_base)]
    process, address = _ie_serving("startup-tiny" + ("-rest" if rest else ""), args, logs, rest)
    request = payloads.grpc_predict("tiny", models.sample("tiny"))
    try:
        seconds = process.wait_answer("grpc", address, request, timeout=120)
        for _ in range(LOAD_REQUESTS):
            call_once("grpc", address, request)
        return seconds, rss_mib(process.pid)
    finally:
        process.stop()


def fifty_models(tiny_base: pathlib.Path, root: pathlib.Path, logs: pathlib.Path, count: int) -> float:
    """Seconds from start to an answer from the last of `count` models in one config file
    (the ports open only after every model's first load attempt)."""
    entries = []
    for index in range(count):
        base = root / f"m{index}"
        if not base.exists():
            shutil.copytree(tiny_base, base)
        entries.append({"config": {"name": f"m{index}", "base_path": str(base)}})
    config = root / "config.json"
    config.write_text(json.dumps({"model_config_list": entries}))
    process, address = _ie_serving(f"load-{count}-models", ["config", "--config_path", str(config)], logs)
    try:
        return process.wait_answer("grpc", address, payloads.grpc_predict(f"m{count - 1}", models.sample("tiny")), 600)
    finally:
        process.stop()


def measure(tiny_base: pathlib.Path, work: pathlib.Path, logs: pathlib.Path, repeats: int, count: int) -> dict:
    starts, rss = zip(*(first_predict_and_rss(tiny_base, logs, rest=False) for _ in range(repeats)), strict=True)
    _, rss_rest = first_predict_and_rss(tiny_base, logs, rest=True)
    return {
        "first_predict_s": statistics.median(starts),
        "first_predict_runs": list(starts),
        "rss_tiny_grpc_mib": statistics.median(rss),
        "rss_tiny_grpc_rest_mib": rss_rest,
        "models_loaded": count,
        "load_models_s": fifty_models(tiny_base, work / "many", logs, count),
    }
