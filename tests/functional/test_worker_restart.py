"""A serving worker killed with SIGKILL: gunicorn's master starts a new one, which loads the
models again before /ping says 200; then HTTP and gRPC answer correctly once more."""

from __future__ import annotations

import os
import pathlib
import signal
import time

import numpy as np
import pytest
import requests

from tests import models
from tests.grpc_client import RawClient
from tests.sagemaker_helpers import ServeProcess, json_body


def _children(pid: int) -> list[int]:
    path = pathlib.Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


@pytest.mark.robustness(
    "the serving worker killed with SIGKILL", "the master starts a new worker; /ping 200 only once models are loaded"
)
def test_killed_worker_is_replaced_and_reloads(tmp_path):
    models.save(models.scale_model(2.0), tmp_path / "model")
    server = ServeProcess(tmp_path / "model", tmp_path / "serve.log").wait_ready()
    x = np.ones((1, 4), np.float32)
    try:
        (worker,) = _children(server.process.pid)
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replacement = [pid for pid in _children(server.process.pid) if pid != worker]
            if replacement:
                break
            time.sleep(0.05)
        assert replacement, "no new worker"
        server.wait_ready()  # /ping is 200 again only after the new worker loaded the model
        assert server.log().count("model model version 1: AVAILABLE") == 2
        answer = server.invoke(json_body({"instances": x.tolist()}), "application/json")
        assert answer.status_code == 200 and answer.json() == {"predictions": [[2.0] * 4]}
        client = RawClient(server.grpc_address)
        try:
            assert client.predict("model", {"x": x})[1]["y"].tolist() == [[2.0] * 4]
        finally:
            client.close()
        assert requests.get(f"{server.url}/ping", timeout=5).status_code == 200
    finally:
        assert server.stop() == 0
