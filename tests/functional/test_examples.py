"""The example clients, run as a user runs them against one live server (gRPC and REST) with
the demo model and its NHWC variant; numbers are checked against OpenVINO's own result."""

from __future__ import annotations

import importlib.util
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from ie_serving.demo import build_demo_model
from tests.example_helpers import (
    EXAMPLES,
    assert_same_top5,
    direct_top5,
    documented_commands,
    nhwc_demo_model,
    printed_top_k,
    reference_pixels,
    run_example,
    with_flag,
    write_images,
)
from tests.models import REPO, save
from tests.rest_helpers import RestServer, write_config

SCRIPTS = [
    "grpc_predict.py",
    "rest_predict.py",
    "get_model_metadata.py",
    "get_model_status.py",
    "jpeg_classification.py",
    "sagemaker_invoke.py",
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("examples")
    save(build_demo_model(), root / "demo")
    save(nhwc_demo_model(), root / "demo_nhwc")
    return root


@pytest.fixture(scope="module")
def server(repo: pathlib.Path) -> Iterator[RestServer]:
    config = write_config(
        repo / "config.json",
        [
            {"name": "demo", "base_path": str(repo / "demo")},
            {"name": "demo_nhwc", "base_path": str(repo / "demo_nhwc")},
        ],
    )
    started = RestServer(["config", "--config_path", str(config)], repo / "server.log").wait_ready()
    yield started
    started.stop()


def grpc_flags(server: RestServer) -> list[str]:
    return ["--grpc_address", server.address]


def rest_flags(server: RestServer) -> list[str]:
    return ["--protocol", "rest", "--rest_url", server.url]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_flag_has_help(script: str) -> None:
    spec = importlib.util.spec_from_file_location(script[:-3], EXAMPLES / script)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    parser = module.build_parser()
    assert parser.description and len(parser.description) > 80
    for action in parser._actions:
        assert action.help and action.help.strip(), (script, action.option_strings)
    assert run_example(script, "--help").stdout.startswith("usage:")


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_predict_from_npy_matches_openvino(server, repo, tmp_path, protocol) -> None:
    batch = np.random.default_rng(3).random((2, 3, 224, 224), dtype=np.float32)
    np.save(tmp_path / "batch.npy", batch)
    script, flags = ("grpc_predict.py", grpc_flags(server)) if protocol == "grpc" else ("rest_predict.py", [])
    flags = flags or ["--rest_url", server.url]
    out = run_example(script, *flags, "--model_name", "demo", "--input", str(tmp_path / "batch.npy")).stdout
    assert "input input: shape [2, 3, 224, 224] dtype float32" in out
    assert "output probabilities: shape [2, 10] dtype float32" in out
    assert_same_top5(printed_top_k(out), direct_top5(repo, "demo", batch))


@pytest.mark.parametrize("fmt", ["row", "column"])
def test_rest_predict_random_batches_and_latency(server, fmt) -> None:
    out = run_example(
        "rest_predict.py", "--rest_url", server.url, "--batch_size", "3", "--iterations", "2", "--top_k", "3",
        "--format", fmt,
    ).stdout  # fmt: skip
    assert "input input: shape [3, 3, 224, 224] dtype float32" in out
    assert "output probabilities: shape [3, 10] dtype float32" in out
    assert len(re.findall(r"^request \d: \d+\.\d\d ms$", out, re.M)) == 2
    assert [len(row) for row in printed_top_k(out)] == [3, 3, 3]
    assert re.search(r"^latency over 2 request\(s\): mean \d+\.\d\d ms", out, re.M)


def test_grpc_predict_random_data_is_the_seeded_batch(server, repo) -> None:
    out = run_example("grpc_predict.py", *grpc_flags(server), "--batch_size", "4", "--seed", "11").stdout
    expected = np.random.default_rng(11).random([4, 3, 224, 224]).astype(np.float32)
    assert_same_top5(printed_top_k(out), direct_top5(repo, "demo", expected))


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_metadata_and_status(server, protocol) -> None:
    flags = grpc_flags(server) if protocol == "grpc" else rest_flags(server)
    meta = run_example("get_model_metadata.py", *flags, "--model_name", "demo_nhwc").stdout.splitlines()
    assert meta == [
        "model demo_nhwc version 1",
        "input input: dtype float32 shape [-1, 224, 224, 3]",
        "output probabilities: dtype float32 shape [-1, 10]",
    ]
    status = run_example("get_model_status.py", *flags, "--model_name", "demo", "--model_version", "1")
    assert status.stdout.splitlines() == ["version 1: AVAILABLE (OK)"]
    missing = run_example("get_model_status.py", *flags, "--model_name", "nope", check=False)
    assert missing.returncode == 1
    assert "Servable not found for request: Latest(nope)" in missing.stderr
    assert ("gRPC NOT_FOUND" if protocol == "grpc" else "HTTP 404") in missing.stderr


@pytest.mark.parametrize(("model", "layout", "protocol"), [("demo", "NCHW", "grpc"), ("demo_nhwc", "NHWC", "rest")])
def test_jpeg_classification_matches_openvino(server, repo, tmp_path, model, layout, protocol) -> None:
    paths = write_images(tmp_path / "images")
    flags = grpc_flags(server) if protocol == "grpc" else rest_flags(server)
    out = run_example(
        "jpeg_classification.py", *flags, "--model_name", model, "--batch_size", "2", str(paths[0].parent)
    ).stdout
    assert f"input input {[-1, 3, 224, 224] if layout == 'NCHW' else [-1, 224, 224, 3]} {layout}" in out
    assert re.findall(r"^(.*): top-5 class:score", out, re.M) == [str(p) for p in sorted(paths)]
    nchw = np.stack([reference_pixels(p, "NCHW") for p in sorted(paths)])
    # the NHWC variant must answer as the NCHW model does on the same pixels
    assert_same_top5(printed_top_k(out, ".*:"), direct_top5(repo, "demo", nchw))
    assert len(re.findall(r"^request of \d image\(s\): \d+\.\d\d ms round trip$", out, re.M)) == 2


SHIPPED_IMAGES = EXAMPLES / "images"


def test_shipped_sample_images_are_small_pictures() -> None:
    images = sorted(p for p in SHIPPED_IMAGES.iterdir() if p.suffix in (".jpg", ".png"))
    assert len(images) >= 3 and {p.suffix for p in images} == {".jpg", ".png"}
    for path in images:
        assert path.stat().st_size < 8 * 1024, path
        with Image.open(path) as image:
            assert image.mode == "RGB" and min(image.size) >= 64, (path, image.mode, image.size)


@pytest.mark.parametrize("command", documented_commands("jpeg_classification.py"), ids=" ".join)
def test_jpeg_classification_documented_command_on_shipped_images(server, repo, command) -> None:
    """The docstring's commands as written (run from the repository root), pointed at the test
    server: the shipped pictures, scaled to the 0-1 the demo model takes, as OpenVINO answers."""
    if "--rest_url" in command:
        command = with_flag(command, "--rest_url", server.url)
    else:
        command = with_flag(command, "--grpc_address", server.address)
    out = run_example("jpeg_classification.py", *command).stdout
    images = sorted(p for p in SHIPPED_IMAGES.iterdir() if p.suffix in (".jpg", ".png"))
    assert re.findall(r"^(.*): top-5 class:score", out, re.M) == [str(p.relative_to(REPO)) for p in images]
    printed = printed_top_k(out, ".*:")
    expected = direct_top5(repo, "demo", np.stack([reference_pixels(p, "NCHW") for p in images]))
    assert_same_top5(printed, expected)
    # 0-255 pixels saturate the demo model's softmax (one class 1.0, the rest 0): not so here,
    # and the pictures land on different classes
    assert max(score for row in printed for _, score in row) < 0.9
    assert len({row[0][0] for row in printed}) >= 3


def test_jpeg_classification_scale_one_sends_0_255(server, repo) -> None:
    out = run_example("jpeg_classification.py", *grpc_flags(server), "--scale", "1", str(SHIPPED_IMAGES)).stdout
    images = sorted(p for p in SHIPPED_IMAGES.iterdir() if p.suffix in (".jpg", ".png"))
    expected = direct_top5(repo, "demo", np.stack([reference_pixels(p, "NCHW", scale=1) for p in images]))
    assert_same_top5(printed_top_k(out, ".*:"), expected)


def test_jpeg_classification_refuses_an_empty_folder_or_a_missing_path(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "notes.txt").write_text("not an image")
    for folder in ("empty", "texts"):
        # no server listens on this port: the error must come before any connection
        done = run_example("jpeg_classification.py", "--grpc_address", "127.0.0.1:1", str(tmp_path / folder),
                           check=False)  # fmt: skip
        assert done.returncode != 0 and done.stdout == ""
        assert f"error: no image files (.bmp/.jpeg/.jpg/.png) in folder {tmp_path / folder}" in done.stderr
    missing = run_example("jpeg_classification.py", str(tmp_path / "cat.jpg"), check=False)
    assert missing.returncode != 0 and f"error: {tmp_path / 'cat.jpg'}: no such file or folder" in missing.stderr
    bad = run_example("jpeg_classification.py", "--scale", "1/0", str(SHIPPED_IMAGES), check=False)
    assert bad.returncode == 2 and "expected a number or a fraction such as 1/255" in bad.stderr


# The Makefile's entry points for a new user (run with -n: what they would run, not run)


def make(*args: str) -> str:
    done = subprocess.run(["make", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_help_lists_every_target() -> None:
    phony = {t for line in (REPO / "Makefile").read_text().splitlines() if line.startswith(".PHONY:")
             for t in line.split(":", 1)[1].split()}  # fmt: skip
    listed = dict(re.findall(r"^  (\S+) +(\S.*)$", make("help"), re.M))
    assert phony <= set(listed), phony - set(listed)
    assert make() == make("help")  # a bare `make` explains itself


def test_make_demo_installs_the_runtime_only_and_test_everything(tmp_path) -> None:
    venv = tmp_path / "venv"
    demo = make("-n", "demo", f"VENV={venv}")
    assert f"{venv}/bin/pip install -q -c constraints.txt -e . " in demo
    assert "[test]" not in demo and "-m pytest" not in demo
    assert f"{venv}/bin/python -m ie_serving.demo demo_models/demo" in demo
    test = make("-n", "test", f"VENV={venv}")
    runtime = test.index(f"{venv}/bin/pip install -q -c constraints.txt -e . ")
    extra = test.index(f"{venv}/bin/pip install -q -c constraints.txt -e '.[test]'")
    assert test.index(f"python3 -m venv {venv}") < runtime < extra < test.index("-m pytest")
