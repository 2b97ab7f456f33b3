"""docs/storage.md's S3 and GCS examples, run as written against local servers: only the ports
change (and the GCS credentials line is left out, as the page says for public buckets)."""

from __future__ import annotations

import os
import pathlib
import re
import sys

import numpy as np
import pytest
import requests

from tests import models
from tests.grpc_client import RawClient
from tests.processes import Process, free_port, port_open
from tests.storage_servers import gcs_client, gcs_emulator, moto_server, s3_client, upload_dir

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "storage.md"


def _example(heading: str) -> str:
    section = DOC.read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def _run_example(script: str, env: dict, log: pathlib.Path) -> tuple[Process, int, int]:
    """The page's bash script on free ports, in its own process group (the shell's children
    are stopped with it)."""
    grpc_port, rest_port = free_port(), free_port()
    script = script.replace("--port 9000", f"--port {grpc_port}").replace(
        "--rest_port 8501", f"--rest_port {rest_port}"
    )
    path = f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}"
    process = Process(["bash", "-c", script], log, {**env, "PATH": path}, group=True, stop_timeout=30)
    return process.start(), grpc_port, rest_port


def _check_serving(process: Process, grpc_port: int, rest_port: int) -> None:
    x = np.ones((1, 4), np.float32)
    process.wait_for(port_open(rest_port), timeout=60, what="listening on REST", interval=0.2)
    answer = requests.post(
        f"http://127.0.0.1:{rest_port}/v1/models/resnet:predict", json={"instances": x.tolist()}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [[2.0] * 4]}
    client = RawClient(f"127.0.0.1:{grpc_port}")
    try:
        assert client.predict("resnet", {"x": x})[1]["y"].tolist() == [[2.0] * 4]
    finally:
        client.close()


@pytest.fixture
def scale_version(tmp_path):
    return models.save(models.scale_model(2.0), tmp_path / "local")


def test_readme_s3_example(tmp_path, scale_version):
    s3 = moto_server(tmp_path).start()
    try:
        client = s3_client(s3.port)
        client.create_bucket(Bucket="models")
        upload_dir(lambda key, path: client.upload_file(str(path), "models", key), scale_version, "resnet/1")
        script = _example("S3 and S3-compatible stores (Minio, Ceph, ...)").replace(
            "localhost:9001", f"127.0.0.1:{s3.port}"
        )
        process, grpc_port, rest_port = _run_example(script, {"TMPDIR": str(tmp_path)}, tmp_path / "serve.log")
        try:
            _check_serving(process, grpc_port, rest_port)
        finally:
            process.stop()
    finally:
        s3.stop()


def test_readme_gcs_example(tmp_path, scale_version):
    gcs = gcs_emulator(tmp_path).start()
    try:
        bucket = gcs_client(gcs.port).create_bucket("models")
        upload_dir(lambda key, path: bucket.blob(key).upload_from_filename(str(path)), scale_version, "resnet/1")
        script = "\n".join(
            line
            for line in _example("Google Cloud Storage").splitlines()
            if "GOOGLE_APPLICATION_CREDENTIALS" not in line
        )
        env = {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{gcs.port}", "TMPDIR": str(tmp_path)}
        process, grpc_port, rest_port = _run_example(script, env, tmp_path / "serve.log")
        try:
            _check_serving(process, grpc_port, rest_port)
        finally:
            process.stop()
    finally:
        gcs.stop()


def test_the_readme_and_configuration_link_to_the_page():
    root = DOC.parents[1]
    assert "(docs/storage.md)" in (root / "README.md").read_text()
    assert "(storage.md)" in (root / "docs" / "sagemaker.md").read_text()
