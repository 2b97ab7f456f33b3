"""GET /ping: 503 until every model has an AVAILABLE version, and quick while every inference
thread is busy with large requests; SIGTERM lets in-flight requests finish and exits 0."""

from __future__ import annotations

import concurrent.futures
import json
import os
import pathlib
import signal
import threading
import time

import numpy as np
import openvino as ov
import requests
from openvino import opset13 as ops

from tests import models
from tests.sagemaker_helpers import ServeProcess, json_body, npy_body

WIDTH = 256


def slow_model(layers: int) -> ov.Model:
    """x f32 [-1, 256] -> y: `layers` chained 256x256 matmuls, to keep inference threads busy."""
    x = ops.parameter([-1, WIDTH], np.float32, name="x")
    weights = ops.constant(np.eye(WIDTH, dtype=np.float32) * 0.5)
    node = x
    for _ in range(layers):
        node = ops.matmul(node, weights, False, False)
    node.output(0).get_tensor().set_names({"y"})
    return ov.Model([node], [x], "slow")


def test_ping_is_503_while_a_model_has_no_available_version(tmp_path: pathlib.Path) -> None:
    models.save(models.scale_model(2.0), tmp_path / "model" / "good", 1)
    broken = tmp_path / "model" / "broken" / "1"
    broken.mkdir(parents=True)
    (broken / "model.xml").write_text("<not a model>")
    (broken / "model.bin").write_bytes(b"")
    server = ServeProcess(tmp_path / "model", tmp_path / "serve.log").wait_ready(status=503)
    try:
        assert requests.get(f"{server.url}/ping", timeout=5).content == b""
        ok = server.invoke(json_body([[1, 2, 3, 4]]), "application/json", attributes="tfs-model-name=good")
        assert ok.json() == {"predictions": [[2.0, 4.0, 6.0, 8.0]]}
    finally:
        assert server.stop() == 0


def test_ping_stays_fast_while_every_thread_runs_inference(tmp_path: pathlib.Path) -> None:
    """Two inference threads, six clients sending 2.7 MB JSON requests: /ping answers beside them."""
    models.save(slow_model(40), tmp_path / "model", 1)
    env = {"SAGEMAKER_GUNICORN_THREADS": "2", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20", "SAGEMAKER_NIREQ": "1"}
    server = ServeProcess(tmp_path / "model", tmp_path / "serve.log", env).wait_ready()
    body = json_body(np.random.default_rng(0).random((1000, WIDTH), dtype=np.float32))
    stop = threading.Event()
    served = []

    def load() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                response = session.post(
                    f"{server.url}/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=120
                )
                served.append((response.status_code, time.monotonic()))

    latencies = []
    try:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            clients = [pool.submit(load) for _ in range(6)]
            time.sleep(1.0)  # the load is running: both threads busy, requests queued
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                started = time.monotonic()
                response = requests.get(f"{server.url}/ping", timeout=10)
                latencies.append(time.monotonic() - started)
                assert (response.status_code, response.content) == (200, b"")
                time.sleep(0.05)
            stop.set()
            for client in clients:
                client.result()
    finally:
        stop.set()
        assert server.stop() == 0
    worst = max(latencies)
    print(
        f"\n/ping under load: {len(latencies)} pings, worst {worst * 1000:.0f} ms, "
        f"median {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms, {len(served)} inferences"
    )
    assert all(status == 200 for status, _ in served)
    assert len(served) >= 6  # the load really ran
    assert worst < 1.0, latencies  # SageMaker allows 2 s


def test_sigterm_drains_in_flight_requests_and_exits_0(tmp_path: pathlib.Path) -> None:
    models.save(slow_model(400), tmp_path / "model", 1)
    server = ServeProcess(tmp_path / "model", tmp_path / "serve.log", {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "20"})
    server.wait_ready()
    x = np.ones((3000, WIDTH), np.float32)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        pending = pool.submit(server.invoke, npy_body(x), "application/x-npy", "application/json")
        time.sleep(0.5)  # the request is inside inference
        os.kill(server.process.pid, signal.SIGTERM)
        response = pending.result()
        assert response.status_code == 200, response.text
        assert len(json.loads(response.content)["predictions"]) == 3000
        assert server.process.wait(timeout=30) == 0
        elapsed = time.monotonic() - started
    assert server.stop() == 0
    assert elapsed < 30
