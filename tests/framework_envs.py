"""The test-only framework environments, built by `make test`: TensorFlow (.venv-tf),
PaddlePaddle (.venv-paddle), the SageMaker Python SDK (.venv-sagemaker), Triton's client
(.venv-triton) and KServe with its SDK and clients (.venv-bench-kserve, which the benchmarks
use too). Scripts under tests/tfclient/, tests/sagemaker_sdk/, tests/tritonclient/ and
tests/kserve_sdk/ run there, so no framework ever enters the server or the test process."""

from __future__ import annotations

import os
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parent.parent
TF_PYTHON = os.environ.get("IE_SERVING_TF_PYTHON", str(REPO / ".venv-tf" / "bin" / "python"))
PADDLE_PYTHON = os.environ.get("IE_SERVING_PADDLE_PYTHON", str(REPO / ".venv-paddle" / "bin" / "python"))
SAGEMAKER_PYTHON = os.environ.get("IE_SERVING_SAGEMAKER_PYTHON", str(REPO / ".venv-sagemaker" / "bin" / "python"))
TRITON_PYTHON = os.environ.get("IE_SERVING_TRITON_PYTHON", str(REPO / ".venv-triton" / "bin" / "python"))
KSERVE_PYTHON = os.environ.get("IE_SERVING_KSERVE_PYTHON", str(REPO / ".venv-bench-kserve" / "bin" / "python"))


def _run(
    python: str, script: str, args: tuple[str, ...], timeout: float, env: dict, directory: str = "tfclient"
) -> subprocess.CompletedProcess:
    assert pathlib.Path(python).exists(), f"{python} missing: `make test` builds the framework environments"
    result = subprocess.run(
        [python, str(REPO / "tests" / directory / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_tf(script: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run tests/tfclient/<script> with the TensorFlow environment's Python; fail on error."""
    return _run(TF_PYTHON, script, args, timeout, {"TF_CPP_MIN_LOG_LEVEL": "3"})


def run_paddle(script: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run tests/tfclient/<script> with the PaddlePaddle environment's Python (legacy .pdmodel
    format, the one OpenVINO's Paddle frontend reads); fail on error."""
    return _run(PADDLE_PYTHON, script, args, timeout, {"FLAGS_enable_pir_api": "0"})


def run_sagemaker(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run tests/sagemaker_sdk/<script> with the SageMaker Python SDK environment's Python (the
    SDK pins protobuf<7, which the server's stubs outgrow); fail on error."""
    return _run(SAGEMAKER_PYTHON, script, args, timeout, {"SAGEMAKER_SUPPRESS_V2_WARNING": "1"}, "sagemaker_sdk")


def run_triton(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run tests/tritonclient/<script> with the Triton client environment's Python
    (tritonclient pins protobuf<7, which the server's stubs outgrow); fail on error."""
    return _run(TRITON_PYTHON, script, args, timeout, {}, "tritonclient")


def run_kserve(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run tests/kserve_sdk/<script> with the KServe environment's Python (KServe's SDK and
    clients pin their own dependencies); fail on error."""
    return _run(KSERVE_PYTHON, script, args, timeout, {}, "kserve_sdk")
