"""The server reuses freed memory for large request buffers instead of taking fresh pages from
the kernel on every request (ie_serving/allocator.py), unless the environment chose glibc's
malloc settings itself."""

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
    tuned = start_server("model", "--model_name", "image", "--model_path", str(base), env={"LOG_LEVEL": "INFO"})
    assert "malloc: blocks up to 32 MB reused from the heap" in tuned.log()
    tuned_faults = faults_per_request(tuned, x)
    tuned.stop()
    # a user's own glibc setting is kept: here one that changes nothing, so glibc's defaults apply
    left = start_server(
        "model",
        "--model_name",
        "image",
        "--model_path",
        str(base),
        env={"LOG_LEVEL": "INFO", "GLIBC_TUNABLES": "glibc.malloc.perturb=0"},
    )
    assert "malloc thresholds left as the environment sets them" in left.log()
    default_faults = faults_per_request(left, x)
    # a request brings 147 pages in and 147 out; glibc's defaults faulted about 600 times per
    # request here, the server's settings about 4
    assert tuned_faults < 20, f"{tuned_faults:.1f} page faults per request with the server's settings"
    assert default_faults > 5 * tuned_faults, (default_faults, tuned_faults)
