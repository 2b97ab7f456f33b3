"""Start the real server as a subprocess on free ports, and stop it by its PID (tests/processes.py)."""

from __future__ import annotations

import pathlib
import sys

import grpc

from tests.processes import Process, free_port, grpc_ready

__all__ = ["ServerProcess", "free_port"]


class ServerProcess(Process):
    """`ie_serving ARGS --port P`, its log in a file, ready once gRPC accepts connections."""

    name = "server"
    # set for a server started with TLS: readiness is then checked over TLS
    channel_credentials: grpc.ChannelCredentials | None = None

    def __init__(self, args: list[str], log_path: pathlib.Path, env: dict[str, str] | None = None):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "ie_serving", *args, "--port", str(self.port)]
        super().__init__(command, log_path, {"LOG_LEVEL": "DEBUG", **(env or {})}, stop_timeout=20)
        self.start()

    def wait_ready(self, timeout: float = 60.0) -> ServerProcess:
        return self.wait_for(lambda: grpc_ready(self.address, self.channel_credentials)(), timeout, "ready")
