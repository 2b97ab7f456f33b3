"""Coverage-guided fuzzing of the image decoder with atheris (issue 18: "atheris on the decode
entry point ... with zero crashes"): tests/fuzz/images_atheris.py runs libFuzzer for a fixed
number of inputs, mutating valid PNG and JPEG files; any exception other than InvalidInput, or
a wrong-shaped answer, stops it with a crash report and a non-zero exit."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

HARNESS = pathlib.Path(__file__).resolve().parents[1] / "fuzz" / "images_atheris.py"
RUNS = 20000


@pytest.mark.robustness(
    f"atheris (libFuzzer) mutating PNG and JPEG files into the image decoder, {RUNS} inputs",
    "every input answered or refused with InvalidInput: zero crashes",
)
def test_atheris_finds_no_crash_in_the_image_decoder(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            str(tmp_path / "corpus"),
            f"-runs={RUNS}",
            "-seed=18",
            "-max_len=4096",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"Done {RUNS} runs" in done.stderr, done.stderr[-2000:]
