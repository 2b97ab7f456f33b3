"""Shared fixtures: temporary model repositories and real server processes."""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.server import ServerProcess

pytest_plugins = ["tests.robustness_report"]


@pytest.fixture
def start_server(tmp_path: pathlib.Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start `ie_serving` with the given arguments; every server is stopped after the test."""
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, ready: bool = True) -> ServerProcess:
        server = ServerProcess(list(args), tmp_path / f"server{len(started)}.log", env)
        started.append(server)
        return server.wait_ready() if ready else server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def _unloads_finish() -> Iterator[None]:
    """In-process tests that unload a version (reconcile.retire) leave a thread that waits for
    its requests and then logs "unloaded": wait for it, so it does not log into a closed capture
    stream after the test ("ValueError: I/O operation on closed file" in the run's output)."""
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("unload-"):
            thread.join(10)
