"""Helpers for the example-client tests: an NHWC variant of the demo model, test images made
with pillow, OpenVINO's own top 5 to compare with, running an example script as a user would,
and the commands its docstring shows."""

from __future__ import annotations

import ast
import pathlib
import re
import shlex
import subprocess
import sys

import numpy as np
import openvino as ov
from PIL import Image

from ie_serving.demo import build_demo_model
from tests.models import REPO, direct_infer

EXAMPLES = REPO / "example_client"


def nhwc_demo_model() -> ov.Model:
    """The demo classifier taking [-1, 224, 224, 3] (NHWC), transposed by OpenVINO's preprocessing."""
    ppp = ov.preprocess.PrePostProcessor(build_demo_model())
    ppp.input().tensor().set_layout(ov.Layout("NHWC"))
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    return ppp.build()


def write_images(folder: pathlib.Path) -> list[pathlib.Path]:
    """Three distinct images of other sizes than 224x224: a gradient JPEG, a noise JPEG, a PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:180, 0:320]
    gradient = np.stack([x * 255 // 319, y * 255 // 179, (x + y) % 256], axis=-1).astype(np.uint8)
    images = {
        "gradient.jpg": gradient,
        "noise.jpeg": rng.integers(0, 256, (300, 260, 3), dtype=np.uint8),
        "stripes.png": np.repeat((np.arange(400) // 20 % 2 * 255).astype(np.uint8)[None, :, None], 240, 0).repeat(3, 2),
    }
    paths = []
    for name, pixels in images.items():
        Image.fromarray(pixels).save(folder / name)
        paths.append(folder / name)
    (folder / "notes.txt").write_text("not an image: the folder scan skips it")
    return paths


def reference_pixels(path: pathlib.Path, layout: str, scale: float = 1 / 255) -> np.ndarray:
    """The image as the test expects the client to send it: RGB, bilinear 224x224, float 0-255
    times scale (jpeg_classification.py's default 1/255: 0-1, what the demo model takes)."""
    pixels = np.asarray(Image.open(path).convert("RGB").resize((224, 224), Image.BILINEAR), dtype=np.float32)
    pixels = pixels * scale
    return pixels.transpose(2, 0, 1) if layout == "NCHW" else pixels


def direct_top5(repo: pathlib.Path, model: str, batch: np.ndarray) -> list[list[tuple[int, float]]]:
    """OpenVINO's own top 5 (class, score) per row for repo/model/1/model.xml on batch."""
    scores = direct_infer(repo / model / "1" / "model.xml", {"input": batch})["probabilities"]
    return [[(int(i), float(row[i])) for i in np.argsort(-row, kind="stable")[:5]] for row in scores]


def assert_same_top5(printed: list[list[tuple[int, float]]], expected: list[list[tuple[int, float]]]) -> None:
    assert len(printed) == len(expected)
    for got, want in zip(printed, expected, strict=True):
        assert [c for c, _ in got] == [c for c, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5)


def documented_commands(script: str) -> list[list[str]]:
    """The arguments of every `python example_client/SCRIPT ...` line in SCRIPT's docstring."""
    docstring = ast.get_docstring(ast.parse((EXAMPLES / script).read_text()))
    prefix = f"python example_client/{script} "
    commands = [shlex.split(line.strip()[len(prefix) :], comments=True) for line in docstring.splitlines()
                if line.strip().startswith(prefix)]  # fmt: skip
    assert commands, f"{script}'s docstring shows no `{prefix.strip()}` command"
    return commands


def with_flag(args: list[str], flag: str, value: str) -> list[str]:
    """args with flag's value replaced by value, or flag appended when args lack it."""
    if flag in args:
        index = args.index(flag) + 1
        return [*args[:index], value, *args[index + 1 :]]
    return [*args, flag, value]


def run_example(script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python example_client/SCRIPT ARGS` from the repository root; its output as text."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    if check:
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result


def printed_top_k(stdout: str, label: str = r"  item \d+") -> list[list[tuple[int, float]]]:
    """The `LABEL top-K class:score ...` lines a script printed, as (class, score) pairs."""
    rows = re.findall(rf"^{label} top-\d+ class:score (.*)$", stdout, re.M)
    return [[(int(c), float(s)) for c, s in (pair.split(":") for pair in row.split())] for row in rows]
