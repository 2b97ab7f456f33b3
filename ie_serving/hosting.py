"""Host an HTTP front end with gunicorn: `ie_serving --rest_port` (one gthread worker process
with --rest_workers threads, the TF Serving REST app) and the SageMaker `serve` entrypoint
(its own Hosting options: its app adds /ping and /invocations; more workers; a heartbeat
timeout).

The store, its poller and the gRPC server start inside that worker, before it answers its
first REST request, so one ModelStore serves both protocols. gunicorn's master binds the
REST port before it starts the worker: a client that connects during start-up waits in the
listen backlog and is answered once every model's first load attempt is over.

Exit codes: 0 after SIGTERM/SIGINT, 1 when start-up fails (a base path cannot be listed, a
port cannot be bound), with the reason in the log.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from ie_serving.config import ServerConfig
from ie_serving.errors import ConfigError, StorageError
from ie_serving.metrics import mount
from ie_serving.rest_api import create_app
from ie_serving.service import Service

if TYPE_CHECKING:
    from ie_serving.repository import ModelRepository

log = logging.getLogger(__name__)

# A worker that exits with this code makes gunicorn's master stop instead of restarting it.
_BOOT_FAILED = Arbiter.WORKER_BOOT_ERROR


class Runtime(Protocol):
    """What a started server gives its HTTP front end (runtime.Runtime)."""

    service: Service
    repository: ModelRepository

    def stop(self, grace: float) -> None: ...


class _GunicornLogger(glogging.Logger):
    """gunicorn's own messages through the process's logging set-up, at the hosting's
    log_level (INFO by default, never more verbose: the handlers log each request at DEBUG)."""

    def setup(self, cfg: object) -> None:
        self.error_log.propagate = True
        self.error_log.setLevel(logging.getLevelName(cfg.loglevel.upper()))  # type: ignore[attr-defined]


def tf_serving_app(runtime: Runtime, config: ServerConfig) -> Flask:
    """The TF Serving REST app alone (`ie_serving --rest_port`)."""
    return create_app(
        runtime.service,
        config.rest_max_body_mb,
        timeout_ms=config.rest_timeout_ms,
        cors=config.rest_cors,
        repository=runtime.repository,
    )


@dataclasses.dataclass(frozen=True)
class Hosting:
    """What a front end chooses about its gunicorn hosting; the defaults are `ie_serving --rest_port`'s.

    timeout: seconds of worker silence before gunicorn restarts it (0: never); model loading
    before the first request is not counted, a heartbeat thread covers it."""

    make_app: Callable[[Runtime, ServerConfig], Flask] = tf_serving_app
    workers: int = 1
    worker_class: str = "gthread"
    timeout: int = 0
    proc_name: str = "ie_serving"
    api_name: str = "REST TF Serving API"
    log_level: str = "info"  # gunicorn's own messages: debug, info, warning, error, critical


class _RestApplication(BaseApplication):
    """gunicorn configured from a ServerConfig; `start` builds the runtime in the worker."""

    def __init__(
        self, config: ServerConfig, start: Callable[[ServerConfig], Runtime], grace_seconds: float, hosting: Hosting
    ):
        self._config = config
        self._start = start
        self._grace = grace_seconds
        self._hosting = hosting
        self._runtime: Runtime | None = None
        self._worker: object = None
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "bind": [f"0.0.0.0:{self._config.rest_port}"],
            "workers": self._hosting.workers,
            "worker_class": self._hosting.worker_class,
            "threads": self._config.rest_workers,
            "timeout": self._hosting.timeout,
            "graceful_timeout": int(self._grace) + 5,
            "keepalive": 5,
            "limit_request_line": 8190,
            "logger_class": _GunicornLogger,
            "loglevel": self._hosting.log_level,
            "accesslog": None,
            "proc_name": self._hosting.proc_name,
            "post_fork": self._post_fork,
            "worker_exit": self._worker_exit,
            "control_socket_disable": True,
        }
        if self._config.tls is not None:
            settings["certfile"] = str(self._config.tls.cert_file)
            settings["keyfile"] = str(self._config.tls.key_file)
        for key, value in settings.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def _post_fork(self, _arbiter: object, worker: object) -> None:
        self._worker = worker

    def load(self):
        """Runs in the worker: load models, open gRPC, start polling, then hand gunicorn the app."""
        loaded = threading.Event()
        if self._hosting.timeout and self._worker is not None:
            notify = self._worker.notify  # type: ignore[attr-defined]
            threading.Thread(target=lambda: _beat(notify, loaded), name="load-heartbeat", daemon=True).start()
        try:
            self._runtime = self._start(self._config)
        except (StorageError, ConfigError, OSError) as exc:
            log.error("start-up failed: %s", exc)
            sys.exit(_BOOT_FAILED)
        finally:
            loaded.set()
        log.info(
            "%s listening on 0.0.0.0:%d (%d threads, %s%s%s)",
            self._hosting.api_name,
            self._config.rest_port,
            self._config.rest_workers,
            "no body size limit"
            if self._config.rest_max_body_mb is None
            else f"bodies up to {self._config.rest_max_body_mb} MB",
            "" if self._config.rest_timeout_ms is None else f", predict deadline {self._config.rest_timeout_ms} ms",
            ", CORS headers" if self._config.rest_cors else "",
        )
        app = self._hosting.make_app(self._runtime, self._config)
        metrics = self._runtime.service.metrics
        if self._config.prometheus_path and metrics is not None:
            mount(app, metrics, self._config.prometheus_path)
            log.info("Prometheus metrics at %s on the REST port", self._config.prometheus_path)
        return app

    def _worker_exit(self, _arbiter: object, _worker: object) -> None:
        """After the worker stops taking REST requests: stop gRPC and polling, release models."""
        if self._runtime is not None:
            self._runtime.stop(self._grace)


def _beat(notify: Callable[[], None], done: threading.Event) -> None:
    """Tell gunicorn's master the worker is alive while models load (before its own loop runs)."""
    while not done.wait(1.0):
        notify()


def _check_port_free(port: int) -> None:
    """Fail fast with a clear message instead of gunicorn's five bind retries."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError as exc:
            raise OSError(f"cannot bind REST port {port}: {exc.strerror}") from None


def serve(
    config: ServerConfig,
    start: Callable[[ServerConfig], Runtime],
    grace_seconds: float,
    hosting: Hosting = Hosting(),
) -> int:
    """Run gunicorn until SIGTERM/SIGINT; return the process exit code."""
    try:
        _check_port_free(config.rest_port)
    except OSError as exc:
        log.error("start-up failed: %s", exc)
        return 1
    master = os.getpid()
    try:
        _RestApplication(config, start, grace_seconds, hosting).run()
    except SystemExit as exc:
        if os.getpid() != master:
            raise  # the forked worker unwinds through here: keep its exit code for the master
        if exc.code not in (0, None):
            log.error("start-up failed: the serving worker exited with code %s; see its log above", exc.code)
            return 1
    return 0
