"""Hosting the REST API: gunicorn's worker holds the one store that gRPC and REST both serve,
start-up failures exit 1 with the reason, SIGTERM exits 0, and --rest_port 0 starts no gunicorn."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import numpy as np
import ovmsclient
import requests

from tests import models
from tests.rest_helpers import RestServer
from tests.server import ServerProcess, free_port


def _wait_exit(process: ServerProcess, timeout: float = 30.0) -> int:
    return process.process.wait(timeout=timeout)


def _run(args: list[str], port: int, rest_port: int) -> tuple[int, str]:
    """Run a server that is expected to stop by itself; its exit code and output."""
    done = subprocess.run(
        [sys.executable, "-m", "ie_serving", *args, "--port", str(port), "--rest_port", str(rest_port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def test_one_store_in_one_process_serves_both_protocols(tmp_path):
    base = tmp_path / "scale"
    models.save(models.scale_model(1.0), base, 1)
    server = RestServer(
        ["model", "--model_name", "scale", "--model_path", str(base), "--file_system_poll_wait_seconds", "0.2"],
        tmp_path / "server.log",
    ).wait_ready()
    grpc_client = ovmsclient.make_grpc_client(server.address)
    models.save(models.scale_model(2.0), tmp_path / "staging", 1).rename(base / "2")
    deadline = time.monotonic() + 30
    while grpc_client.get_model_status("scale").get(2, {}).get("state") != "AVAILABLE":
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    rest = requests.post(f"{server.url}/v1/models/scale:predict", json={"inputs": [[1, 1, 1, 1]]}, timeout=10)
    assert rest.json() == {"outputs": [[2.0] * 4]}
    assert grpc_client.predict({"x": np.ones((1, 4), np.float32)}, "scale").tolist() == [[2.0] * 4]
    assert server.stop() == 0
    log = server.log()
    assert log.count("model scale version 2: loading") == 1, log  # one store loaded it once for both
    grpc_pid = re.search(r"INFO (\d+) ie_serving.runtime: gRPC TF Serving API listening", log)
    rest_pid = re.search(r"INFO (\d+) ie_serving.hosting: REST TF Serving API listening", log)
    assert grpc_pid and rest_pid and grpc_pid.group(1) == rest_pid.group(1), log
    assert "shutting down: finishing in-flight requests" in log and "stopped" in log


def test_unlistable_base_path_exits_1(tmp_path):
    server = RestServer(["model", "--model_name", "m", "--model_path", str(tmp_path / "absent")], tmp_path / "s.log")
    assert _wait_exit(server) == 1
    log = server.log()
    assert "start-up failed" in log and str(tmp_path / "absent") in log, log
    server.stop()


def test_rest_port_in_use_exits_1_quickly(tmp_path):
    models.save(models.scale_model(), tmp_path / "m", 1)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["model", "--model_name", "m", "--model_path", str(tmp_path / "m"), "--rest_port", str(port)]
        server = ServerProcess(args, tmp_path / "s.log")
        assert _wait_exit(server, timeout=10) == 1
    assert f"cannot bind REST port {port}" in server.log(), server.log()
    server.stop()


def test_grpc_port_in_use_exits_1(tmp_path):
    models.save(models.scale_model(), tmp_path / "m", 1)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        grpc_port = taken.getsockname()[1]
        code, log = _run(["model", "--model_name", "m", "--model_path", str(tmp_path / "m")], grpc_port, free_port())
    assert code == 1 and "start-up failed" in log and f"cannot bind gRPC port {grpc_port}" in log, log


def test_rest_port_zero_starts_no_gunicorn(tmp_path):
    models.save(models.scale_model(), tmp_path / "m", 1)
    server = ServerProcess(
        ["model", "--model_name", "m", "--model_path", str(tmp_path / "m"), "--rest_port", "0"], tmp_path / "s.log"
    ).wait_ready()
    assert server.stop() == 0
    log = server.log()
    assert "gunicorn" not in log and "REST" not in log, log


def test_bad_rest_flags_exit_2(tmp_path):
    base = ["model", "--model_name", "m", "--model_path", str(tmp_path)]
    code, log = _run([*base, "--rest_max_body_mb", "0"], free_port(), free_port())
    assert code == 2 and "--rest_max_body_mb: expected an integer >= 1, got 0" in log, log
    port = free_port()
    code, log = _run(base, port, port)
    assert code == 2 and f"--rest_port: expected a port other than the gRPC --port {port}" in log, log
