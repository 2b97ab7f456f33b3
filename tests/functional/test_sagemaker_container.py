"""The image recipe without a Docker engine: build_and_push.sh --dry-run, the local_test
scripts with --no-docker exactly as the README shows them, and container/install.sh (every
install step of the Dockerfile) in a fresh virtual environment."""

from __future__ import annotations

import io
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tests.processes import Process, free_port, http_answers

REPO = pathlib.Path(__file__).resolve().parents[2]
X = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.0, 10.0]], dtype=np.float32)


def test_build_and_push_dry_run_prints_every_command() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_ACCOUNT_ID")}
    env.update(AWS_REGION="eu-west-1", AWS_ACCOUNT_ID="111122223333", PATH="/usr/bin:/bin")  # no docker, no aws
    done = subprocess.run(
        [str(REPO / "build_and_push.sh"), "ie-serving", "v7", "--dry-run"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    registry = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
    assert [line for line in done.stdout.splitlines() if line.startswith("+ ")] == [
        "+ docker build -t ie-serving:v7 .",
        "+ aws ecr describe-repositories --repository-names ie-serving --region eu-west-1"
        " || aws ecr create-repository --repository-name ie-serving --region eu-west-1",
        f"+ aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin {registry}",
        f"+ docker tag ie-serving:v7 {registry}/ie-serving:v7",
        f"+ docker push {registry}/ie-serving:v7",
    ]
    usage = subprocess.run([str(REPO / "build_and_push.sh"), "--dry-run"], capture_output=True, text=True, env=env)
    assert usage.returncode == 2 and "usage" in usage.stderr


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory):
    """local_test/serve_local.sh --no-docker on free ports, run from the repository root."""
    env = {
        **os.environ,
        "SAGEMAKER_BIND_TO_PORT": str(free_port()),
        "SAGEMAKER_GRPC_PORT": str(free_port()),
        "PATH": f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    log = tmp_path_factory.mktemp("local") / "serve.log"
    process = Process(["local_test/serve_local.sh", "--no-docker"], log, env, cwd=REPO, stop_timeout=40).start()
    url = f"http://127.0.0.1:{env['SAGEMAKER_BIND_TO_PORT']}"
    process.wait_for(http_answers(f"{url}/ping", 200), timeout=60, what="answering /ping with 200")
    yield env
    assert process.stop() == 0  # exec'd: the PID is serve's, SIGTERM ends it cleanly


@pytest.mark.parametrize("payload", ["payload.json", "payload.jsonl", "payload.csv", "payload.npy", "payload.npz"])
def test_predict_script_with_each_sample_payload(local_server: dict, payload: str) -> None:
    done = subprocess.run(
        ["local_test/predict.sh", f"local_test/payloads/{payload}"], cwd=REPO, env=local_server, capture_output=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    np.testing.assert_array_equal(np.array(answer.get("predictions", answer.get("outputs")), np.float32), X * 2 + 1)


def test_predict_script_with_content_type_and_accept(local_server: dict) -> None:
    done = subprocess.run(
        ["local_test/predict.sh", "--no-docker", "local_test/payloads/payload.csv", "text/csv", "application/x-npy"],
        cwd=REPO,
        env=local_server,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(io.BytesIO(done.stdout[:-1]), allow_pickle=False), X * 2 + 1)
    refused = subprocess.run(
        ["local_test/predict.sh", "local_test/payloads/payload.json", "text/plain"],
        cwd=REPO,
        env=local_server,
        capture_output=True,
    )
    assert refused.returncode != 0 and b"415" in refused.stderr + refused.stdout


def test_install_script_in_a_fresh_venv(tmp_path: pathlib.Path) -> None:
    """The Dockerfile's only install step, in a venv of its own (pip's cache makes it quick)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run(
        [str(REPO / "container" / "install.sh"), str(REPO)],
        env={**os.environ, "PYTHON": str(venv / "bin" / "python")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ie_serving installed, OpenVINO" in done.stdout
    assert (venv / "bin" / "serve").exists()
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "container/install.sh" in dockerfile and 'ENTRYPOINT ["serve"]' in dockerfile
