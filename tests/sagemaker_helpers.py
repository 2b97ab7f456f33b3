"""The SageMaker `serve` entrypoint as a real subprocess on free ports, plus request bodies
written byte for byte as the SageMaker Python SDK's serializers write them."""

from __future__ import annotations

import io
import json
import os
import pathlib
import sys

import numpy as np
import requests

from tests.processes import Process, free_port, http_answers

ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


class ServeProcess(Process):
    """`python -m serve` (the `serve` script) with SM_MODEL_DIR and free ports."""

    name = "serve"

    def __init__(self, model_dir: pathlib.Path, log_path: pathlib.Path, env: dict[str, str] | None = None):
        self.http_port, self.grpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.grpc_address = f"127.0.0.1:{self.grpc_port}"
        full_env = {
            "SM_MODEL_DIR": str(model_dir),
            "SAGEMAKER_BIND_TO_PORT": str(self.http_port),
            "SAGEMAKER_GRPC_PORT": str(self.grpc_port),
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        python = full_env.pop("SERVE_PYTHON", os.environ.get("SERVE_PYTHON", sys.executable))
        super().__init__([python, "-m", "serve"], log_path, full_env, stop_timeout=40)
        self.start()

    def wait_ready(self, timeout: float = 60.0, status: int = 200) -> ServeProcess:
        """Until GET /ping answers `status` (200: every model AVAILABLE)."""
        return self.wait_for(http_answers(f"{self.url}/ping", status), timeout, f"answering /ping with {status}")

    def invoke(self, body: bytes, content_type: str, accept: str | None = None, attributes: str | None = None):
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        if attributes:
            headers[ATTRIBUTES] = attributes
        return requests.post(f"{self.url}/invocations", data=body, headers=headers, timeout=60)


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
