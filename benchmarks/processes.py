"""Contender processes: started on loopback ports, ready once a real request succeeds,
stopped by their PID (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time

import grpc
import requests

from benchmarks.loadgen import GRPC_OPTIONS
from benchmarks.payloads import Request
from tests.server import free_port

__all__ = ["Process", "call_once", "free_port", "rss_mib"]


class Process:
    """One started program with its log file; `stop` ends it and only it, by PID."""

    def __init__(self, name: str, argv: list[str], log_dir: pathlib.Path, env: dict[str, str] | None = None):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_answer(self, kind: str, target: str, request: Request, timeout: float = 180) -> float:
        """Retry the request until it succeeds; seconds since the process started."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see {self.log_path}")
            try:
                call_once(kind, target, request, timeout=30)
                return time.perf_counter() - self.started
            except (grpc.RpcError, requests.RequestException, RuntimeError) as exc:
                last = str(exc)[:300]
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} gave no answer within {timeout} s ({last}); see {self.log_path}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait()
        self._log.close()


def call_once(kind: str, target: str, request: Request, timeout: float = 60) -> bytes:
    """One synchronous request; the answer's body, or an exception."""
    if kind == "grpc":
        with grpc.insecure_channel(target, options=GRPC_OPTIONS) as channel:
            return channel.unary_unary(request.path)(request.body, timeout=timeout)
    response = requests.post(target + request.path, data=request.body, headers=request.headers, timeout=timeout)
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
    return response.content


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (a gunicorn master and its worker), MiB."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = pathlib.Path(f"/proc/{current}/status").read_text()
            children = pathlib.Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        pids.extend(int(child) for child in children)
    return total / 1024
