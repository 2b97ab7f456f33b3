"""example_client/sagemaker_invoke.py against a live `serve` (SageMaker entrypoint) with the
demo model: JSON and .npy bodies, the model named in custom attributes, numbers checked
against OpenVINO's own result; its docstring's commands as written against local_test's
model, and local_test's files themselves. (The --endpoint_name path needs a real SageMaker
endpoint.)"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from ie_serving.demo import build_demo_model
from tests.example_helpers import (
    assert_same_top5,
    direct_top5,
    documented_commands,
    printed_top_k,
    run_example,
    with_flag,
)
from tests.models import REPO, direct_infer, save
from tests.sagemaker_helpers import ServeProcess


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("sagemaker_examples")
    save(build_demo_model(), root / "model" / "demo")  # SM_MODEL_DIR with one model per sub-directory
    return root / "model"


@pytest.fixture(scope="module")
def serve(model_dir: pathlib.Path) -> Iterator[ServeProcess]:
    started = ServeProcess(model_dir, model_dir.parent / "serve.log").wait_ready()
    yield started
    started.stop()


@pytest.mark.parametrize("content_type", ["application/json", "application/x-npy"])
def test_invocations_match_openvino(serve, model_dir, tmp_path, content_type) -> None:
    batch = np.random.default_rng(5).random((2, 3, 224, 224), dtype=np.float32)
    np.save(tmp_path / "batch.npy", batch)
    out = run_example(
        "sagemaker_invoke.py", "--url", serve.url, "--input", str(tmp_path / "batch.npy"),
        "--content_type", content_type, "--model_name", "demo", "--model_version", "1",
    ).stdout  # fmt: skip
    assert f"input: shape [2, 3, 224, 224] dtype float32 as {content_type}" in out
    assert "output predictions: shape [2, 10]" in out
    assert_same_top5(printed_top_k(out), direct_top5(model_dir, "demo", batch))
    assert "round trip: " in out


def test_random_input_and_errors(serve) -> None:
    out = run_example(
        "sagemaker_invoke.py", "--url", serve.url, "--shape", "3,3,224,224", "--top_k", "2",
        "--content_type", "application/x-npy",
    ).stdout  # fmt: skip
    assert [len(row) for row in printed_top_k(out)] == [2, 2, 2]
    missing = run_example("sagemaker_invoke.py", "--url", serve.url, "--shape", "1,3,224,224", "--model_name", "nope",
                          check=False)  # fmt: skip
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr


LOCAL_TEST = REPO / "local_test"
PAYLOADS = ["payload.json", "payload.jsonl", "payload.csv", "payload.npy", "payload.npz"]


@pytest.fixture(scope="module")
def local_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """`serve` with SM_MODEL_DIR=local_test/test_dir, as local_test/serve_local.sh runs it."""
    started = ServeProcess(LOCAL_TEST / "test_dir", tmp_path_factory.mktemp("local_test") / "serve.log")
    yield started.wait_ready()
    started.stop()


def printed_values(stdout: str) -> list:
    """The `  values [...]` line print_outputs writes for a small output."""
    (values,) = re.findall(r"^  values (.*)$", stdout, re.M)
    return ast.literal_eval(values)


@pytest.mark.parametrize(
    "command", [c for c in documented_commands("sagemaker_invoke.py") if "--url" in c], ids=" ".join
)
def test_documented_commands_against_local_test_model(local_serve, command) -> None:
    """The docstring's --url commands as written (from the repository root), pointed at a serve
    of local_test/test_dir: y = 2x + 1 as OpenVINO computes it."""
    out = run_example("sagemaker_invoke.py", *with_flag(command, "--url", local_serve.url)).stdout
    if "--input" in command:
        x = np.load(REPO / command[command.index("--input") + 1])
    else:  # the script's random input: default_rng(0), float32, of --shape
        shape = [int(d) for d in command[command.index("--shape") + 1].split(",")]
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
    expected = direct_infer(LOCAL_TEST / "test_dir" / "1" / "model.xml", {"x": x})["y"]
    assert f"output predictions: shape {list(expected.shape)}" in out
    np.testing.assert_allclose(printed_values(out), expected, rtol=1e-6)


def test_local_test_model_dir_holds_only_the_model(local_serve) -> None:
    """Sample payloads live in local_test/payloads, so serve has nothing to ignore in test_dir."""
    assert sorted(p.name for p in (LOCAL_TEST / "test_dir").iterdir()) == ["1"]
    assert sorted(p.name for p in (LOCAL_TEST / "payloads").iterdir()) == sorted(PAYLOADS)
    assert "ignored" not in local_serve.log()
    assert "model model version 1: AVAILABLE" in local_serve.log()


def test_make_test_dir_writes_the_committed_files(tmp_path) -> None:
    """local_test/make_test_dir.py --out DIR regenerates test_dir and payloads byte for byte."""
    subprocess.run([sys.executable, str(LOCAL_TEST / "make_test_dir.py"), "--out", str(tmp_path)], check=True)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = [pathlib.Path("test_dir/1/model.bin"), pathlib.Path("test_dir/1/model.xml")]
    committed += [pathlib.Path("payloads") / name for name in PAYLOADS]
    assert written == sorted(committed)
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (LOCAL_TEST / relative).read_bytes(), relative


@pytest.mark.parametrize("payload", PAYLOADS)
def test_predict_sh_with_each_sample_payload(local_serve, payload) -> None:
    """local_test/predict.sh local_test/payloads/PAYLOAD, as the README shows it."""
    done = subprocess.run(
        ["local_test/predict.sh", f"local_test/payloads/{payload}"],
        cwd=REPO,
        env={**os.environ, "SAGEMAKER_BIND_TO_PORT": str(local_serve.http_port)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    x = np.load(LOCAL_TEST / "payloads" / "payload.npy")
    answer = json.loads(done.stdout)
    np.testing.assert_array_equal(np.array(answer.get("predictions", answer.get("outputs")), np.float32), 2 * x + 1)


def test_predict_sh_names_the_samples_when_the_payload_is_missing() -> None:
    done = subprocess.run(["local_test/predict.sh", "local_test/test_dir/payload.json"], cwd=REPO,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode == 2
    assert "local_test/test_dir/payload.json: no such file (samples: local_test/payloads/payload." in done.stderr
