"""Serving from an S3-compatible store (moto's server on loopback): start-up, live new
versions, the endpoint lost and back, and the cache reused after a restart."""

from __future__ import annotations

import contextlib
import time

import numpy as np
import pytest

from tests import models
from tests.grpc_client import RawClient
from tests.storage_servers import S3_ENV, moto_server, s3_client, upload_dir


def _wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met")


@pytest.fixture
def s3(tmp_path):
    server = moto_server(tmp_path).start()
    yield server
    server.stop()


def _publish(port: int, tmp_path, version: int, factor: float, public: bool = False) -> None:
    client = s3_client(port)
    acl = {"ACL": "public-read"} if public else {}
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket="models", **acl)
    local = models.save(models.scale_model(factor), tmp_path / f"local{version}", version)
    upload = lambda key, path: client.upload_file(str(path), "models", key, ExtraArgs=acl)  # noqa: E731
    upload_dir(upload, local, f"repo/scale/{version}")


@pytest.mark.robustness(
    "the S3 endpoint stopped while serving, then restarted",
    "served versions keep answering; polling recovers with the endpoint",
)
def test_s3_serving_updates_outage_and_cache(tmp_path, s3, start_server):
    _publish(s3.port, tmp_path, 1, 1.0)
    env = {**S3_ENV, "S3_ENDPOINT": f"127.0.0.1:{s3.port}"}
    args = [
        "model",
        "--model_name",
        "scale",
        "--model_path",
        "s3://models/repo/scale",
        "--model_cache_dir",
        str(tmp_path / "cache"),
        "--file_system_poll_wait_seconds",
        "0.3",
    ]
    server = start_server(*args, env=env)
    client = RawClient(server.address)
    x = np.ones((1, 4), np.float32)
    try:
        assert client.predict("scale", {"x": x})[1]["y"].tolist() == [[1.0] * 4]
        _publish(s3.port, tmp_path, 2, 2.0)
        _wait_for(lambda: client.status("scale").get(2) == ("AVAILABLE", 0, ""))
        assert client.predict("scale", {"x": x})[0] == 2

        s3.stop()  # the endpoint goes away: the served version keeps serving
        time.sleep(1.0)
        assert client.predict("scale", {"x": x})[1]["y"].tolist() == [[2.0] * 4]
        assert "cannot list s3://models/repo/scale" in server.log()

        s3.start()  # back, empty (moto keeps state in memory): re-publish with a new version
        _publish(s3.port, tmp_path, 2, 2.0)
        _publish(s3.port, tmp_path, 3, 3.0)
        _wait_for(lambda: client.status("scale").get(3) == ("AVAILABLE", 0, ""))
        assert client.predict("scale", {"x": x})[1]["y"].tolist() == [[3.0] * 4]
    finally:
        client.close()
    assert server.stop() == 0
    first_log = server.log()
    assert first_log.count(": downloading ") == 3

    again = start_server(*args, env=env)  # a restart finds version 3 in the cache
    client = RawClient(again.address)
    try:
        assert client.predict("scale", {"x": x})[1]["y"].tolist() == [[3.0] * 4]
    finally:
        client.close()
    assert ": downloading " not in again.log()
    assert "s3://models/repo/scale version 3: using cached copy" in again.log()


def test_s3_missing_bucket_stops_start_up(tmp_path, s3, start_server):
    env = {**S3_ENV, "S3_ENDPOINT": f"http://127.0.0.1:{s3.port}"}
    server = start_server("model", "--model_name", "m", "--model_path", "s3://absent/m", env=env, ready=False)
    assert server.process.wait(timeout=60) == 1
    assert "cannot list s3://absent/m: NoSuchBucket" in server.log()


def test_s3_wrong_credentials_stop_start_up_with_a_clear_error(tmp_path, start_server):
    strict = moto_server(tmp_path, authenticate=True).start()
    try:
        env = {**S3_ENV, "AWS_ACCESS_KEY_ID": "wrong", "S3_ENDPOINT": f"127.0.0.1:{strict.port}"}
        server = start_server("model", "--model_name", "m", "--model_path", "s3://models/m", env=env, ready=False)
        assert server.process.wait(timeout=60) == 1
    finally:
        strict.stop()
    assert "cannot list s3://models/m: InvalidAccessKeyId" in server.log()
    assert "(check AWS_ACCESS_KEY_ID)" in server.log()


def test_s3_without_any_credentials_reads_unsigned(tmp_path, s3, start_server):
    """A public bucket: no credentials anywhere, so requests go unsigned (boto3 would otherwise
    refuse to send them at all with NoCredentialsError)."""
    _publish(s3.port, tmp_path, 1, 2.0, public=True)
    env = {name: "" for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        S3_ENDPOINT=f"127.0.0.1:{s3.port}",
    )
    args = [
        "model",
        "--model_name",
        "m",
        "--model_path",
        "s3://models/repo/scale",
        "--model_cache_dir",
        str(tmp_path / "c"),
    ]
    server = start_server(*args, env=env)
    client = RawClient(server.address)
    try:
        assert client.predict("m", {"x": np.ones((1, 4), np.float32)})[1]["y"].tolist() == [[2.0] * 4]
    finally:
        client.close()


def test_s3_missing_profile_is_a_clear_start_up_error(tmp_path, start_server):
    env = {"AWS_PROFILE": "nobody", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    server = start_server("model", "--model_name", "m", "--model_path", "s3://models/m", env=env, ready=False)
    assert server.process.wait(timeout=60) == 1
    assert "cannot set up the S3 client: The config profile (nobody) could not be found" in server.log()
    assert "Traceback" not in server.log()
