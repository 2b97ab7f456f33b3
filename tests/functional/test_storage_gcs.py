"""Serving from Google Cloud Storage through a GCS emulator on loopback
(STORAGE_EMULATOR_HOST, as the official client honours it)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests import models
from tests.grpc_client import RawClient
from tests.storage_servers import gcs_client, gcs_emulator, upload_dir


@pytest.fixture
def gcs(tmp_path):
    server = gcs_emulator(tmp_path).start()
    yield server
    server.stop()


def _publish(port: int, tmp_path, version: int, factor: float) -> None:
    client = gcs_client(port)
    bucket = client.bucket("models")
    if not bucket.exists():
        client.create_bucket("models")
    local = models.save(models.scale_model(factor), tmp_path / f"local{version}", version)
    upload_dir(lambda key, path: bucket.blob(key).upload_from_filename(str(path)), local, f"repo/scale/{version}")


def test_gcs_serving_and_live_update(tmp_path, gcs, start_server):
    _publish(gcs.port, tmp_path, 1, 1.0)
    server = start_server(
        "model",
        "--model_name",
        "scale",
        "--model_path",
        "gs://models/repo/scale",
        "--model_cache_dir",
        str(tmp_path / "cache"),
        "--file_system_poll_wait_seconds",
        "0.3",
        env={"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{gcs.port}"},
    )
    client = RawClient(server.address)
    x = np.full((2, 4), 1.5, np.float32)
    try:
        assert client.predict("scale", {"x": x})[1]["y"].tolist() == (x * 1.0).tolist()
        _publish(gcs.port, tmp_path, 2, 2.0)
        deadline = time.monotonic() + 30
        while client.status("scale").get(2) != ("AVAILABLE", 0, "") and time.monotonic() < deadline:
            time.sleep(0.1)
        version, outputs = client.predict("scale", {"x": x})
        assert version == 2 and outputs["y"].tolist() == (x * 2.0).tolist()
    finally:
        client.close()
    assert "gs://models/repo/scale version 2: downloading 2 file(s)" in server.log()
