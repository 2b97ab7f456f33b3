"""The server reuses freed memory for large request buffers instead of taking fresh pages from
the kernel on every request (ie_serving/allocator.py)."""

from __future__ import annotations

import pathlib

import numpy as np

from tests import models
from tests.grpc_client import RawClient

REQUESTS = 200


def minor_faults(pid: int) -> int:
    """Page faults served without I/O so far (field 10 of /proc/PID/stat)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[7])


def faults_per_request(server, x: np.ndarray) -> float:
    client = RawClient(server.address)
    try:
        for _ in range(30):  # warm-up: the first requests grow the heap
            client.predict("image", {"x": x})
        before = minor_faults(server.process.pid)
        for _ in range(REQUESTS):
            _, outputs = client.predict("image", {"x": x})
            np.testing.assert_array_equal(outputs["y"], 2 * x)
        return (minor_faults(server.process.pid) - before) / REQUESTS
    finally:
        client.close()


def test_large_requests_reuse_memory(tmp_path, start_server):
    base = tmp_path / "image"
    models.save(models.scale_model(2.0, [1, 3, 224, 224]), base)
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)  # 602 KB in, 602 KB out
    server = start_server("model", "--model_name", "image", "--model_path", str(base), env={"LOG_LEVEL": "INFO"})
    assert "malloc: blocks up to 32 MB reused from the heap" in server.log()
    # a request brings 147 pages in and 147 out; with glibc's defaults the server faulted about
    # 600 times per request on a quiet machine (fewer when the cores are busy), with its own
    # settings 2-4 times (tests/unit/test_allocator.py checks the settings themselves)
    faults = faults_per_request(server, x)
    assert faults < 20, f"{faults:.1f} page faults per request"
