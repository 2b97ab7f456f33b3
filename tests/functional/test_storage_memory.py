"""A 200 MB object downloads from S3 with flat memory: peak RSS of the downloading process
grows by far less than the object's size (a generous bound, not a tight one)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.storage_servers import S3_ENV, moto_server, s3_client

SIZE = 200 * 1024 * 1024

DOWNLOAD = """
import json, pathlib, resource, sys
from ie_serving.logs import setup_logging
from ie_serving.storage import storage_for
setup_logging()
storage = storage_for("s3://big/model", pathlib.Path(sys.argv[1]))
versions, _ = storage.list_versions("s3://big/model")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
path = storage.local_dir("s3://big/model", versions[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_kb": after - before, "size": (path / "model.bin").stat().st_size}))
"""


def test_large_object_streams_to_disk(tmp_path):
    s3 = moto_server(tmp_path).start()
    try:
        client = s3_client(s3.port)
        client.create_bucket(Bucket="big")
        client.put_object(Bucket="big", Key="model/1/model.xml", Body=b"<net/>")
        blob = tmp_path / "model.bin"
        with open(blob, "wb") as handle:
            handle.truncate(SIZE)
        client.upload_file(str(blob), "big", "model/1/model.bin")
        blob.unlink()
        result = subprocess.run(
            [sys.executable, "-c", DOWNLOAD, str(tmp_path / "cache")],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **S3_ENV, "S3_ENDPOINT": f"127.0.0.1:{s3.port}", "LOG_LEVEL": "INFO"},
        )
    finally:
        s3.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["size"] == SIZE
    progress = re.findall(r"s3://big/model version 1: model.bin: (\d+)% of 210 MB", result.stderr)
    assert len(progress) >= 9 and progress[-1] == "100", progress  # big files log their progress
    assert measured["growth_kb"] < 64 * 1024, f"peak RSS grew by {measured['growth_kb'] / 1024:.0f} MB"
    print(f"peak RSS growth while downloading 200 MB: {measured['growth_kb'] / 1024:.1f} MB")
