"""Whether one more model fits in memory, for the multi-model endpoint's 507 answer.

A model's need is estimated before loading as twice the size of the files the store loads
first (docs/memory_sizing.md measured RSS growth of 2.0 x the .bin per version after its first
predictions: OpenVINO maps the file and the CPU plugin keeps a repacked copy). A load is
refused when the estimates of the loaded models plus this one pass SAGEMAKER_MAX_MODEL_MEMORY_MB,
or when this one passes the MemAvailable of /proc/meminfo.
"""

from __future__ import annotations

import logging
import pathlib
import re

from ie_serving.errors import InsufficientMemory

log = logging.getLogger(__name__)

MEMINFO = pathlib.Path("/proc/meminfo")
WEIGHT_FACTOR = 2
_MB = 1024 * 1024


def need_bytes(directory: pathlib.Path) -> int:
    """WEIGHT_FACTOR x the size of the files in `directory` (one model version)."""
    return WEIGHT_FACTOR * sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def available_bytes(meminfo: pathlib.Path = MEMINFO) -> int | None:
    """MemAvailable in bytes; None when the kernel does not say (then only the limit applies)."""
    try:
        match = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match[1]) * 1024 if match else None


def check(name: str, need: int, loaded: int, limit_mb: int | None, available: int | None) -> None:
    """InsufficientMemory when `need` more bytes would pass the limit or the available memory."""
    if limit_mb is not None and loaded + need > limit_mb * _MB:
        raise InsufficientMemory(
            f"model {name} needs about {need / _MB:.1f} MB (2 x its files); loaded models hold about "
            f"{loaded / _MB:.1f} MB of SAGEMAKER_MAX_MODEL_MEMORY_MB={limit_mb}: unload a model first",
        )
    if available is not None and need > available:
        raise InsufficientMemory(
            f"model {name} needs about {need / _MB:.1f} MB (2 x its files) but only "
            f"{available / _MB:.1f} MB are available (MemAvailable): unload a model first",
        )
