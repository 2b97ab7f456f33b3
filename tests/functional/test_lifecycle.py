"""Version life cycle under a live server and a running stream of requests: add a version,
break one, fix it, remove one; no request may fail or get a wrong answer during the swaps."""

from __future__ import annotations

import pathlib
import shutil
import threading
import time

import numpy as np
import pytest

from tests import models
from tests.grpc_client import RawClient

FACTOR = {1: 1.0, 2: 2.0, 3: 3.0}


def _publish(base: pathlib.Path, version: int, staging: pathlib.Path) -> None:
    """Write the version aside and rename it in, as a deployment would."""
    ready = models.save(models.scale_model(FACTOR[version]), staging / f"v{version}", 1)
    ready.rename(base / str(version))


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


class Load:
    """A bounded stream of Predict calls for the latest version, checking every answer."""

    def __init__(self, client: RawClient):
        self.client = client
        self.failures: list[str] = []
        self.versions_seen: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(4)]

    def _run(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        while not self._stop.is_set():
            x = rng.random((2, 4), dtype=np.float32)
            try:
                version, outputs = self.client.predict("scale", {"x": x}, timeout=10)
            except Exception as exc:  # every failure is recorded, none may happen
                self.failures.append(repr(exc))
                continue
            if not np.array_equal(outputs["y"], x * np.float32(FACTOR[version])):
                self.failures.append(f"wrong answer from version {version}")
            self.versions_seen.append(version)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


@pytest.mark.robustness(
    "versions added, broken, fixed and removed under live load",
    "zero failed and zero wrong answers during the swaps",
)
def test_versions_swap_without_failed_requests(tmp_path, start_server):
    base, staging = tmp_path / "scale", tmp_path / "staging"
    base.mkdir()
    _publish(base, 1, staging)
    server = start_server(
        "model", "--model_name", "scale", "--model_path", str(base), "--file_system_poll_wait_seconds", "0.2"
    )
    client = RawClient(server.address)
    try:
        with Load(client) as load:
            time.sleep(0.5)
            _publish(base, 2, staging)  # a new version replaces the old one
            _wait_for(lambda: client.status("scale") == {1: ("END", 0, ""), 2: ("AVAILABLE", 0, "")})

            broken = base / "3"  # a broken version does not displace the served one
            broken.mkdir()
            (broken / "model.xml").write_text("<broken/>")
            (broken / "model.bin").write_bytes(b"\0")
            _wait_for(lambda: client.status("scale").get(3, ("",))[0] == "END")
            assert client.status("scale")[2] == ("AVAILABLE", 0, "")
            time.sleep(0.5)

            shutil.rmtree(broken)  # fixing it brings it in
            _publish(base, 3, staging)
            _wait_for(lambda: client.status("scale").get(3) == ("AVAILABLE", 0, ""))
            _wait_for(lambda: client.status("scale")[2][0] == "END")
            time.sleep(0.5)

            shutil.rmtree(base / "3")  # removing the newest brings the previous one back
            _wait_for(lambda: client.status("scale") == {1: ("END", 0, ""), 2: ("AVAILABLE", 0, ""), 3: ("END", 0, "")})
            time.sleep(0.5)
        assert load.failures == []
        assert {1, 2, 3} <= set(load.versions_seen)
        assert len(load.versions_seen) > 100
    finally:
        client.close()
    log = server.log()
    assert (
        "model scale version 3: load failed, not served until its files change: cannot read OpenVINO IR model.xml"
        in log
    )
    assert "model scale version 2: unloaded" in log


def test_version_directories_that_are_not_versions_are_ignored(tmp_path, start_server):
    base = tmp_path / "model1"
    models.save(models.scale_model(1.0), base, 1)
    (base / "2").mkdir()
    (base / "2" / "notes.txt").write_text("no model here")
    (base / "latest").mkdir()
    (base / "README").write_text("hello")
    server = start_server("model", "--model_name", "model1", "--model_path", str(base))
    client = RawClient(server.address)
    try:
        assert client.status("model1") == {1: ("AVAILABLE", 0, "")}
    finally:
        client.close()
    log = server.log()
    assert "version directory 2 ignored: no model found, expected an OpenVINO IR pair (.xml + .bin), " in log
    assert "latest: ignored, version directories must be named by a positive integer" in log
    assert "README: ignored, not a version directory" in log


def test_model_without_versions_serves_nothing(tmp_path, start_server):
    base = tmp_path / "model2"
    base.mkdir()
    (base / "model.xml").write_text("<net/>")
    server = start_server("model", "--model_name", "model2", "--model_path", str(base))
    client = RawClient(server.address)
    try:
        with pytest.raises(Exception, match="Servable not found for request: Latest\\(model2\\)"):
            client.predict("model2", {"x": np.ones((1, 4), np.float32)})
    finally:
        client.close()
