"""The test-only TensorFlow environment (.venv-tf, built by `make test`): scripts under
tests/tfclient/ run there, so TensorFlow never enters the server or the test process."""

from __future__ import annotations

import os
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parent.parent
TF_PYTHON = os.environ.get("IE_SERVING_TF_PYTHON", str(REPO / ".venv-tf" / "bin" / "python"))


def run_tf(script: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run tests/tfclient/<script> with the TensorFlow environment's Python; fail on error."""
    assert pathlib.Path(TF_PYTHON).exists(), f"{TF_PYTHON} missing: `make test` builds the TensorFlow client venv"
    result = subprocess.run(
        [TF_PYTHON, str(REPO / "tests" / "tfclient" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result
