"""S3-compatible (moto's standalone server) and GCS (gcp-storage-emulator) servers on
loopback, started by the tests and stopped by PID; plus uploads of model versions."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

from tests.server import free_port

BIN = pathlib.Path(sys.executable).parent


class LoopbackServer:
    """A storage server process on 127.0.0.1:port, restartable on the same port."""

    def __init__(self, command: list[str], port: int, log_path: pathlib.Path, env: dict | None = None):
        self.command, self.port, self.log_path, self.env = command, port, log_path, env
        self.process: subprocess.Popen | None = None

    def start(self) -> LoopbackServer:
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(self.env or {})}
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[0]} exited: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"{self.command[0]} did not listen on {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


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
