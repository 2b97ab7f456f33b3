"""Remote storage edge cases against real local servers: an object replaced between listing
and download is not mixed into the version; unusable GCS credentials stop start-up."""

from __future__ import annotations

import pytest

from ie_serving.errors import StorageError
from ie_serving.storage import storage_for
from tests.storage_servers import S3_ENV, moto_server, s3_client


@pytest.mark.robustness(
    "a model object replaced during its download",
    "the download fails and is retried whole; old and new files never mixed",
)
def test_object_replaced_after_listing_fails_the_download(tmp_path, monkeypatch):
    s3 = moto_server(tmp_path).start()
    try:
        for key, value in {**S3_ENV, "S3_ENDPOINT": f"127.0.0.1:{s3.port}"}.items():
            monkeypatch.setenv(key, value)
        client = s3_client(s3.port)
        client.create_bucket(Bucket="models")
        client.put_object(Bucket="models", Key="m/1/model.xml", Body=b"<net/>")
        client.put_object(Bucket="models", Key="m/1/model.bin", Body=b"old weights")
        storage = storage_for("s3://models/m", tmp_path / "cache")
        versions, _ = storage.list_versions("s3://models/m")
        client.put_object(Bucket="models", Key="m/1/model.bin", Body=b"new weights!")
        with pytest.raises(StorageError, match="model.bin: PreconditionFailed .*changed while it was downloaded"):
            storage.local_dir("s3://models/m", versions[1])
        assert not any(p.name == "1" for p in (tmp_path / "cache").rglob("*")), "a partial version was kept"
        versions, _ = storage.list_versions("s3://models/m")
        local = storage.local_dir("s3://models/m", versions[1])
        assert (local / "model.bin").read_bytes() == b"new weights!"
    finally:
        s3.stop()


def test_unusable_gcs_credentials_stop_start_up(tmp_path, start_server):
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "absent.json")}
    server = start_server("model", "--model_name", "m", "--model_path", "gs://models/m", env=env, ready=False)
    assert server.process.wait(timeout=60) == 1
    assert "GOOGLE_APPLICATION_CREDENTIALS: cannot use these credentials" in server.log()
    assert str(tmp_path / "absent.json") in server.log()
