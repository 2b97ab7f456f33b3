"""What the figures were measured on: machine, cores, load, versions."""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import platform
import subprocess

from benchmarks.contenders import KSERVE_PYTHON

PACKAGES = ("openvino", "grpcio", "protobuf", "numpy", "flask", "gunicorn", "orjson", "aiohttp")


def _cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _kserve_version() -> str:
    if not KSERVE_PYTHON.exists():
        return "not installed"
    code = "import importlib.metadata as m; print(m.version('kserve'))"
    done = subprocess.run([str(KSERVE_PYTHON), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def describe() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["kserve"] = _kserve_version()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "load_before": load_average(),
    }
