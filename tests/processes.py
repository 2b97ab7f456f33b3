"""The one way the tests run a server: `Process` starts a command with its environment and a
log file, waits until a readiness probe passes (a port accepts, HTTP answers, gRPC is ready),
and stops it by the PID it started: SIGTERM, then SIGKILL after a timeout. The model servers
(tests/server.py, tests/sagemaker_helpers.py), the storage servers (tests/storage_servers.py)
and the documented commands the docs tests run are all built on it."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence

import grpc
import requests

Probe = Callable[[], bool]


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> Probe:
    """Ready once something accepts TCP connections on host:port."""

    def probe() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex((host, port)) == 0

    return probe


def http_answers(url: str, status: int | None = None, **request: object) -> Probe:
    """Ready once GET url answers (with `status`, when given); request: requests.get's keywords.
    No answer within the timeout is not ready yet (a worker still loading its models has not
    begun to read the connections the listening socket queued)."""

    def probe() -> bool:
        try:
            answer = requests.get(url, **{"timeout": 2, **request})
        except (requests.ConnectionError, requests.Timeout):
            return False
        return status is None or answer.status_code == status

    return probe


def grpc_ready(address: str, credentials: grpc.ChannelCredentials | None = None) -> Probe:
    """Ready once a gRPC channel to address connects (over TLS with credentials)."""

    def probe() -> bool:
        channel = grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address)
        with channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=0.5)
                return True
            except grpc.FutureTimeoutError:
                return False

    return probe


class Process:
    """One command run by a test. `env` is laid over os.environ; stdout and stderr go to
    log_path (emptied by the first start unless append=True, appended to by a restart). With
    group=True the
    command runs in its own session and stop() signals that process group (for a shell
    script that starts the server as a child); otherwise only the PID started is signalled."""

    name = "process"  # how error messages call it

    def __init__(
        self,
        command: Sequence[str],
        log_path: pathlib.Path,
        env: Mapping[str, str] | None = None,
        *,
        cwd: pathlib.Path | str | None = None,
        group: bool = False,
        append: bool = False,
        stop_timeout: float = 20.0,
    ):
        self.command = list(command)
        self.log_path = pathlib.Path(log_path)
        self.env = dict(env or {})
        self.cwd, self.group, self.append, self.stop_timeout = cwd, group, append, stop_timeout
        self.process: subprocess.Popen | None = None

    def start(self) -> Process:
        mode = "ab" if self.append or self.process is not None else "wb"
        with open(self.log_path, mode) as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                start_new_session=self.group,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for(self, ready: Probe, timeout: float = 60.0, what: str = "ready", interval: float = 0.1) -> Process:
        """Poll `ready` until it passes; fail with the log if the process exits first, or
        stop it and fail with the log after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            if ready():
                return self
            time.sleep(interval)
        self.stop()
        raise RuntimeError(f"{self.name} not {what} after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, signum: int) -> None:
        """Send signum to the PID started (to its process group with group=True)."""
        if self.group:
            os.killpg(self.pid, signum)
        else:
            os.kill(self.pid, signum)

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` s (the instance's stop_timeout by default);
        returns the exit code (None when never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait()
        return self.process.returncode
