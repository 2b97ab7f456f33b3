"""Start the real server as a subprocess on free ports, and stop it by its PID."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import grpc


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`ie_serving ARGS --port P`, its log in a file, ready once gRPC accepts connections."""

    # set for a server started with TLS: readiness is then checked over TLS
    channel_credentials: grpc.ChannelCredentials | None = None

    def __init__(self, args: list[str], log_path: pathlib.Path, env: dict[str, str] | None = None):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        full_env = {**os.environ, "LOG_LEVEL": "DEBUG", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ie_serving", *args, "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )

    def wait_ready(self, timeout: float = 60.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            channel = (
                grpc.secure_channel(self.address, self.channel_credentials)
                if self.channel_credentials
                else grpc.insecure_channel(self.address)
            )
            with channel:
                try:
                    grpc.channel_ready_future(channel).result(timeout=0.5)
                    return self
                except grpc.FutureTimeoutError:
                    continue
        self.stop()
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 20 s; returns the exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode
