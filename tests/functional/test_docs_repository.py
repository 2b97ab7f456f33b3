"""docs/model_repository.md: the invalid repository it shows, built for real and served with
the command the page gives, makes the server log exactly the lines the page prints, and
version 1 serves."""

from __future__ import annotations

import pathlib
import re
import shlex
import sys

from ie_serving.demo import build_demo_model
from tests.models import REPO, save
from tests.processes import Process, free_port, grpc_ready

DOC = REPO / "docs" / "model_repository.md"


def documented_log_lines() -> list[str]:
    text = DOC.read_text().split("<!-- log lines: invalid repository -->", 1)[1]
    return re.search(r"```text\n(.*?)```", text, re.S).group(1).splitlines()


def documented_command() -> list[str]:
    """The `ie_serving ...` command the page says it started the invalid repository with."""
    text = DOC.read_text().split("<!-- log lines: invalid repository -->", 1)[0]
    words = shlex.split(re.findall(r"Started with `(ie_serving [^`]+)`", text)[-1])
    assert words[:2] == ["ie_serving", "model"], words
    return words[1:]


def test_the_page_shows_the_tree_the_test_builds() -> None:
    """Every directory and file the test builds is drawn in the page's invalid tree."""
    text = DOC.read_text().split("## What is ignored", 1)[1].split("<!-- log lines", 1)[0]
    tree = re.search(r"```text\n(.*?)```", text, re.S).group(1)
    for name in ("readme.txt", "latest/", "0/", "1/", "2/", "3/", "4/", "5/", "a.xml  a.bin", "b.xml  b.bin"):
        assert name in tree, name
    assert "ir/model.xml" in tree


def build_invalid_repository(root: pathlib.Path) -> None:
    base = root / "models" / "resnet"
    save(build_demo_model(), base, 1)
    for name in ("latest", "0"):
        (base / name).mkdir()
    (base / "readme.txt").write_text("notes")
    (base / "2").mkdir()
    (base / "2" / "model.xml").write_text((base / "1" / "model.xml").read_text())
    for stem in ("a", "b"):
        save(build_demo_model(), root / "pair" / stem)
        (base / "3").mkdir(exist_ok=True)
        for suffix in (".xml", ".bin"):
            (base / "3" / f"{stem}{suffix}").write_bytes((root / "pair" / stem / "1" / f"model{suffix}").read_bytes())
    (base / "4").mkdir()
    (base / "4" / "model.xml").write_text("this is not an IR file")
    (base / "4" / "model.bin").write_bytes(b"\0" * 16)
    save(build_demo_model(), base / "5", "ir")  # 5/ir/model.xml


def test_invalid_repository_logs_what_the_page_says(tmp_path: pathlib.Path) -> None:
    build_invalid_repository(tmp_path)
    port = free_port()
    log_path = tmp_path / "server.log"
    command = [sys.executable, "-m", "ie_serving", *documented_command()]
    server = Process(
        [*command, "--port", str(port), "--file_system_poll_wait_seconds", "0"],
        log_path,
        {"LOG_LEVEL": "INFO"},
        cwd=tmp_path,
        stop_timeout=30,
    ).start()
    try:
        server.wait_for(grpc_ready(f"127.0.0.1:{port}"), timeout=60, what="serving gRPC")
    finally:
        server.stop()
    logged = [line.split(": ", 1)[1] for line in log_path.read_text().splitlines() if ": " in line]
    position = -1
    for line in documented_log_lines():
        if line.endswith("..."):
            found = [i for i, got in enumerate(logged) if got.startswith(line[:-3])]
        else:
            found = [i for i, got in enumerate(logged) if got == line]
        assert found, (line, logged)
        if line.startswith("model resnet version"):  # load attempts in the documented order
            assert found[0] > position, (line, logged)
            position = found[0]
