"""Faults and secrets: files of a served version corrupted on disk, and credentials that must
never appear in the log or in an error answer."""

from __future__ import annotations

import numpy as np
import pytest

from tests import models
from tests.grpc_client import RawClient
from tests.server import free_port
from tests.storage_servers import S3_ENV

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYzEXAMPLEKEY"


@pytest.mark.robustness(
    "files of a served version overwritten with garbage while serving",
    "the loaded version keeps answering correctly; its status stays AVAILABLE",
)
def test_corrupted_files_of_a_served_version(tmp_path, start_server):
    version_dir = models.save(models.scale_model(2.0), tmp_path / "m")
    server = start_server(
        "model", "--model_name", "m", "--model_path", str(tmp_path / "m"), "--file_system_poll_wait_seconds", "0.2"
    )
    client = RawClient(server.address)
    x = np.ones((3, 4), np.float32)
    try:
        assert client.predict("m", {"x": x})[1]["y"].tolist() == [[2.0] * 4] * 3
        (version_dir / "model.bin").write_bytes(b"\xde\xad" * 10)
        (version_dir / "model.xml").write_text("<garbage")
        for _ in range(10):  # several polls see the changed files
            assert client.predict("m", {"x": x})[1]["y"].tolist() == [[2.0] * 4] * 3
            server.process.poll()
        assert client.status("m") == {1: ("AVAILABLE", 0, "")}
    finally:
        client.close()


@pytest.mark.robustness("storage credentials in a failing start-up", "the secret never appears in the log")
def test_secrets_stay_out_of_the_log(tmp_path, start_server):
    env = {
        **S3_ENV,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "S3_ENDPOINT": f"http://user:{SECRET}@127.0.0.1:{free_port()}",
    }
    server = start_server("model", "--model_name", "m", "--model_path", "s3://models/m", env=env, ready=False)
    assert server.process.wait(timeout=120) == 1
    log = server.log()
    assert "cannot list s3://models/m" in log
    assert SECRET not in log
    assert "http://***@127.0.0.1" in log  # the endpoint is still named, its credentials masked
