"""example_client/sagemaker_invoke.py against a live `serve` (SageMaker entrypoint) with the
demo model: JSON and .npy bodies, the model named in custom attributes, numbers checked
against OpenVINO's own result. (The --endpoint_name path needs a real SageMaker endpoint.)"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import numpy as np
import pytest

from ie_serving.demo import build_demo_model
from tests.example_helpers import printed_top_k, run_example
from tests.functional.test_examples import assert_same_top5, direct_top5
from tests.models import save
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
