"""S3-compatible (moto's standalone server) and GCS (gcp-storage-emulator) servers on
loopback, started by the tests and stopped by PID (tests/processes.py); plus uploads of model
versions."""

from __future__ import annotations

import os
import pathlib
import sys

from tests.processes import Process, free_port, port_open

BIN = pathlib.Path(sys.executable).parent


class LoopbackServer(Process):
    """A storage server process on 127.0.0.1:port, restartable on the same port."""

    def __init__(self, command: list[str], port: int, log_path: pathlib.Path, env: dict | None = None):
        super().__init__(command, log_path, env, append=True, stop_timeout=10)
        self.port = port
        self.name = pathlib.Path(command[0]).name

    def start(self) -> LoopbackServer:
        super().start()
        return self.wait_for(port_open(self.port), timeout=30, what=f"listening on {self.port}")


def moto_server(log_dir: pathlib.Path, authenticate: bool = False) -> LoopbackServer:
    """moto's S3 server; with authenticate, unknown access keys are refused as AWS does."""
    port = free_port()
    env = {"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if authenticate else None
    command = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    return LoopbackServer(command, port, log_dir / "moto.log", env)


def gcs_emulator(log_dir: pathlib.Path) -> LoopbackServer:
    port = free_port()
    command = [str(BIN / "gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"]
    return LoopbackServer(command, port, log_dir / "gcs.log")


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


def s3_client(port: int):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def gcs_client(port: int):
    from google.cloud import storage

    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    try:
        return storage.Client.create_anonymous_client()
    finally:
        del os.environ["STORAGE_EMULATOR_HOST"]


def upload_dir(put, local_dir: pathlib.Path, key_prefix: str) -> None:
    """put(key, path) for every file below local_dir, keys under key_prefix."""
    for path in sorted(local_dir.rglob("*")):
        if path.is_file():
            put(f"{key_prefix}/{path.relative_to(local_dir)}", path)
