"""SIGTERM under load: the server stops accepting, finishes in-flight requests within the
grace period and exits 0; clients see complete correct answers or refusals, nothing else."""

from __future__ import annotations

import os
import signal
import threading
import time

import grpc
import numpy as np
import pytest

from tests import models
from tests.grpc_client import RawClient
from tests.rest_helpers import metric_samples, metrics_flags, write_config

REFUSALS = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}


def _wait_in_flight(rest_port: int, model: str, timeout: float = 30.0) -> None:
    """Until the server's ie_serving_requests_in_flight shows a request holding `model` (a
    fixed sleep was not enough on a loaded machine: SIGTERM could come before it arrived)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples = metric_samples(rest_port).get("ie_serving_requests_in_flight", [])
        if any(sample.labels["model_name"] == model and sample.value >= 1 for sample in samples):
            return
        time.sleep(0.01)
    raise AssertionError(f"no request for {model} in flight within {timeout} s")


@pytest.mark.robustness(
    "SIGTERM during a bounded load with a long request in flight",
    "in-flight request completed; clients saw only correct answers or refusals; exit 0",
)
def test_sigterm_finishes_in_flight_requests(tmp_path, start_server):
    models.save(models.slow_model(), tmp_path / "slow")
    models.save(models.scale_model(2.0), tmp_path / "scale")
    config = write_config(
        tmp_path / "config.json",
        [
            {"name": "slow", "base_path": str(tmp_path / "slow"), "nireq": 1},
            {"name": "scale", "base_path": str(tmp_path / "scale")},
        ],
    )
    metrics, rest_port = metrics_flags(tmp_path)
    server = start_server("config", "--config_path", str(config), "--shutdown_grace_seconds", "20", *metrics)
    client = RawClient(server.address)
    outcomes: list[str] = []
    stop = threading.Event()

    def load() -> None:
        rng = np.random.default_rng()
        while not stop.is_set():
            x = rng.random((2, 4), dtype=np.float32)
            try:
                _, outputs = client.predict("scale", {"x": x}, timeout=10)
            except grpc.RpcError as exc:
                outcomes.append("refused" if exc.code() in REFUSALS else f"{exc.code()}: {exc.details()}")
                time.sleep(0.01)
                continue
            outcomes.append("ok" if np.array_equal(outputs["y"], x * 2) else "wrong answer")

    slow_input = np.random.default_rng(1).random((512, 1024), dtype=np.float32)
    slow_answer: list = []
    workers = [threading.Thread(target=load) for _ in range(3)]
    slow = threading.Thread(target=lambda: slow_answer.append(client.predict("slow", {"x": slow_input}, timeout=60)))
    try:
        for worker in workers:
            worker.start()
        time.sleep(0.5)
        slow.start()
        _wait_in_flight(rest_port, "slow")  # the long request holds its version
        started = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        stopped_after = time.monotonic() - started
        slow.join(timeout=30)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
        client.close()
    assert slow_answer, "the in-flight request did not complete"
    assert slow_answer[0][1]["y"].shape == (512, 1024)
    assert stopped_after < 20
    assert outcomes.count("ok") > 20
    assert set(outcomes) <= {"ok", "refused"}, sorted(set(outcomes))
    assert "shutting down: finishing in-flight requests (grace 20 s)" in server.log()
