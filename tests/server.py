"""Start the real server (`ie_serving`, or `tensorflow_model_server` with TF Serving's flags) as a subprocess on
free ports, and stop it by its PID (tests/processes.py)."""

from __future__ import annotations

import pathlib
import sys

import grpc

from tests.processes import Process, free_port, grpc_ready, http_answers

__all__ = ["SCRIPT", "ServerProcess", "TfModelServer", "free_port"]

SCRIPT = pathlib.Path(sys.executable).parent / "tensorflow_model_server"


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


class TfModelServer(Process):
    """`tensorflow_model_server ARGS --port=P --rest_api_port=R`, ready once both ports answer."""

    name = "tensorflow_model_server"

    def __init__(self, args: list[str], log_path: pathlib.Path):
        self.port, self.rest_port = free_port(), free_port()
        self.address, self.url = f"127.0.0.1:{self.port}", f"http://127.0.0.1:{self.rest_port}"
        command = [str(SCRIPT), *args, f"--port={self.port}", f"--rest_api_port={self.rest_port}"]
        super().__init__(command, log_path, {"LOG_LEVEL": "DEBUG"}, stop_timeout=20)
        self.start()
        self.wait_for(grpc_ready(self.address), 90, "ready")
        self.wait_for(http_answers(f"{self.url}/v1/models/_ready_probe", timeout=1), 60, "answering on REST")
