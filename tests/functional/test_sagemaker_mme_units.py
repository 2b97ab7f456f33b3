"""The multi-model endpoint's pieces without a server: its environment variables, the memory
check (the MemAvailable branch a test machine cannot reach for real) and /proc/meminfo parsing,
and the directory layout.py sizes a model from."""

from __future__ import annotations

import pathlib

import pytest

from ie_serving.errors import ConfigError, InsufficientMemory, answer
from serve import layout, memory, settings

MB = 1024 * 1024


def test_multi_model_settings() -> None:
    got = settings.from_environ(
        {"SAGEMAKER_MULTI_MODEL": "TRUE", "SAGEMAKER_MULTI_MODEL_DIR": "/m", "SAGEMAKER_MAX_MODEL_MEMORY_MB": "512"}
    )
    assert (got.multi_model, got.multi_model_dir, got.max_model_memory_mb) == (True, pathlib.Path("/m"), 512)
    default = settings.from_environ({})
    assert (default.multi_model, default.multi_model_dir, default.max_model_memory_mb) == (
        False,
        pathlib.Path("/opt/ml/models"),
        None,
    )


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"SAGEMAKER_MULTI_MODEL": "yes"}, "SAGEMAKER_MULTI_MODEL: expected true or false"),
        ({"SAGEMAKER_MAX_MODEL_MEMORY_MB": "0"}, "SAGEMAKER_MAX_MODEL_MEMORY_MB: expected an integer >= 1"),
        ({"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_GUNICORN_WORKERS": "3"}, "use 1 worker"),
    ],
)
def test_multi_model_settings_errors(environ: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        settings.from_environ(environ)


def test_memory_check() -> None:
    memory.check("m", 10 * MB, 20 * MB, 30, 100 * MB)  # exactly at the limit fits
    with pytest.raises(InsufficientMemory, match="SAGEMAKER_MAX_MODEL_MEMORY_MB=30") as limit:
        memory.check("m", 10 * MB + 1, 20 * MB, 30, 100 * MB)
    with pytest.raises(InsufficientMemory, match="only 5.0 MB are available") as free:
        memory.check("m", 6 * MB, 0, None, 5 * MB)
    assert answer(limit.value).http_status == answer(free.value).http_status == 507
    memory.check("m", 6 * MB, 0, None, None)  # nothing known: nothing refused


def test_available_bytes(tmp_path: pathlib.Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    2048 kB\n")
    assert memory.available_bytes(meminfo) == 2048 * 1024
    assert memory.available_bytes(tmp_path / "missing") is None
    assert memory.available_bytes(pathlib.Path("/proc/meminfo")) > 0


def test_need_counts_the_latest_version_twice(tmp_path: pathlib.Path) -> None:
    for version, size in ((1, 1000), (2, 300), (10, 50)):
        (tmp_path / str(version)).mkdir()
        (tmp_path / str(version) / "model.xml").write_bytes(b"x" * 10)
        (tmp_path / str(version) / "model.bin").write_bytes(b"x" * size)
    latest = layout.served_dir(tmp_path)
    assert latest == tmp_path / "10"
    assert memory.need_bytes(latest) == 2 * 60
    assert layout.served_dir(tmp_path / "1") == tmp_path / "1"  # bare IR files
    (tmp_path / "empty").mkdir()
    assert layout.served_dir(tmp_path / "empty") is None
