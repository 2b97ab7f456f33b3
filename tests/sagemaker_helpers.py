"""The SageMaker `serve` entrypoint as a real subprocess on free ports, plus request bodies
written byte for byte as the SageMaker Python SDK's serializers write them."""

from __future__ import annotations

import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import requests

from tests.server import free_port

ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


class ServeProcess:
    """`python -m serve` (the `serve` script) with SM_MODEL_DIR and free ports."""

    def __init__(self, model_dir: pathlib.Path, log_path: pathlib.Path, env: dict[str, str] | None = None):
        self.http_port, self.grpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.grpc_address = f"127.0.0.1:{self.grpc_port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        full_env = {
            **os.environ,
            "SM_MODEL_DIR": str(model_dir),
            "SAGEMAKER_BIND_TO_PORT": str(self.http_port),
            "SAGEMAKER_GRPC_PORT": str(self.grpc_port),
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        python = full_env.pop("SERVE_PYTHON", sys.executable)
        self.process = subprocess.Popen(
            [python, "-m", "serve"], stdout=self._log, stderr=subprocess.STDOUT, env=full_env
        )

    def wait_ready(self, timeout: float = 60.0, status: int = 200) -> ServeProcess:
        """Until GET /ping answers `status` (200: every model AVAILABLE)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/ping", timeout=2).status_code == status:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"/ping did not answer {status} within {timeout} s:\n{self.log()}")

    def invoke(self, body: bytes, content_type: str, accept: str | None = None, attributes: str | None = None):
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        if attributes:
            headers[ATTRIBUTES] = attributes
        return requests.post(f"{self.url}/invocations", data=body, headers=headers, timeout=60)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM to the PID we started, SIGKILL after `timeout` s; returns the exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode


def json_body(data) -> bytes:
    """sagemaker.serializers.JSONSerializer: json.dumps, arrays through tolist()."""
    return json.dumps(data.tolist() if isinstance(data, np.ndarray) else data).encode()


def csv_body(array: np.ndarray) -> bytes:
    """sagemaker.serializers.CSVSerializer on a 2-D array: rows on lines, values joined by commas."""
    return "\n".join(",".join(str(value) for value in row) for row in array.tolist()).encode()


def npy_body(array: np.ndarray) -> bytes:
    """sagemaker.serializers.NumpySerializer: np.save of the array."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npz_body(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npy_answer(response: requests.Response) -> np.ndarray:
    return np.load(io.BytesIO(response.content), allow_pickle=False)
