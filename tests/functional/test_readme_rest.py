"""docs/rest_api.md's examples, run as written: each ```bash block of its "Examples" section runs
in a shell against a demo model served like `make demo` does (REST_PORT names the free port the
test uses), its output equals the ```json block that follows it, and it leaves no file behind in
the directory it runs from (the README's front door links to this page)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.rest_helpers import RestServer

REPO = pathlib.Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "rest_api.md"
SECTION = "## Examples"


def _blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced block in the page's Examples section, in order."""
    page = DOC.read_text()
    section = page[page.index(f"\n{SECTION}\n") :]
    following = re.search(r"\n## ", section[len(SECTION) + 2 :])
    if following:
        section = section[: following.start() + len(SECTION) + 2]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


def _examples() -> list[tuple[str, list[str]]]:
    """Each bash block with the JSON lines it is documented to print."""
    blocks = _blocks()
    pairs = []
    for index, (language, text) in enumerate(blocks):
        if language == "bash":
            expected = blocks[index + 1][1] if index + 1 < len(blocks) and blocks[index + 1][0] == "json" else ""
            pairs.append((text, expected.splitlines()))
    return pairs


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    models_dir = tmp_path_factory.mktemp("demo_models") / "demo"
    subprocess.run([sys.executable, "-m", "ie_serving.demo", str(models_dir)], check=True, timeout=120)
    server = RestServer(
        ["model", "--model_name", "demo", "--model_path", str(models_dir)],
        tmp_path_factory.mktemp("log") / "server.log",
    )
    yield server.wait_ready()
    assert server.stop() == 0


def test_the_section_has_status_metadata_and_predict_examples():
    commands = "\n".join(text for text, _ in _examples())
    for path in ("/v1/models/demo\n", "/v1/models/demo/metadata", "/v1/models/demo:predict"):
        assert path in commands
    assert all(expected for _, expected in _examples()), "every example shows what it prints"


def test_the_readme_links_to_the_page():
    assert "(docs/rest_api.md)" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("index", range(len(_examples())))
def test_readme_example_runs_as_written(demo, tmp_path, index):
    script, expected = _examples()[index]
    (tmp_path / ".venv").symlink_to(REPO / ".venv")  # the examples run from the repository root
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env={**os.environ, "REST_PORT": str(demo.rest_port)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p.name for p in tmp_path.iterdir()] == [".venv"], "the example wrote into the working directory"
    printed = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    documented = [json.loads(line) for line in expected]
    assert len(printed) == len(documented), done.stdout
    for got, want in zip(printed, documented, strict=True):
        if "predictions" in want:  # numbers as printed in the page, to their printed digits
            np.testing.assert_allclose(got["predictions"], want["predictions"], rtol=1e-6)
        else:
            assert got == want
