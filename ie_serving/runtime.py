"""Start-up and shutdown: load every model once, open the ports, poll storage, and stop
cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import pathlib
import signal
import threading

import grpc

from ie_serving.allocator import keep_freed_memory
from ie_serving.config import GrpcTls, ServerConfig, load_config_file
from ie_serving.config_reload import ConfigFilePoller, ConfigReloader
from ie_serving.engine import EngineOptions
from ie_serving.errors import ConfigError, FailedPrecondition, StorageError
from ie_serving.grpc_api import start_grpc_server
from ie_serving.health import ModelHealth
from ie_serving.hosting import serve as serve_http
from ie_serving.metrics import Metrics
from ie_serving.reconcile import Poller, Reconciler
from ie_serving.repository import ModelRepository
from ie_serving.service import Service
from ie_serving.storage import storage_for
from ie_serving.storage.listing import Storage
from ie_serving.store import ModelStore, ServedModel
from ie_serving.tf_serving_flags import parse_text_config
from ie_serving.versions import State

log = logging.getLogger(__name__)


class Runtime:
    """The store, its reconciler and poller, the service, the gRPC server and the model
    repository extension's core of one serving process."""

    def __init__(
        self,
        reconciler: Reconciler,
        poller: Poller,
        service: Service,
        grpc_server: grpc.Server,
        repository: ModelRepository,
        health: ModelHealth | None = None,
        config_poller: ConfigFilePoller | None = None,
    ):
        self.reconciler = reconciler
        self.repository = repository
        self.poller = poller
        self.config_poller = config_poller
        self.service = service
        self.grpc_server = grpc_server
        self.health = health

    def stop(self, grace: float) -> None:
        """Stop polling and accepting, let in-flight requests finish, release models."""
        log.info("shutting down: finishing in-flight requests (grace %.0f s)", grace)
        if self.health is not None:
            self.health.shutting_down()
        if self.config_poller is not None:
            self.config_poller.stop()
        self.poller.stop()
        self.grpc_server.stop(grace).wait()
        self.reconciler.unload_all()
        log.info("stopped")


def start(config: ServerConfig) -> Runtime:
    """Set glibc's malloc for large request buffers (allocator.py), load every configured model
    (first attempt), then open gRPC and start polling.

    Raises StorageError when a base path cannot be listed, ConfigError when a version label
    names a version that did not load, OSError when the port is taken."""
    keep_freed_memory()

    def storage(base_path: str) -> Storage:
        return storage_for(base_path, config.model_cache_dir)

    store = ModelStore(tuple(ServedModel(model, storage(model.base_path)) for model in config.models))
    options = EngineOptions(
        config.max_queued_requests,
        config.compile_cache_dir,
        config.warmup_iterations,
        config.batching,
        config.per_model_batching,
    )
    reconciler = Reconciler(store, storage, options)
    log.info("loading %d model(s): %s", len(config.models), ", ".join(m.name for m in config.models))
    reconciler.reconcile_all(fatal_storage_errors=True)
    for model in store.models.values():
        if not any(s.state == State.AVAILABLE for s in model.versions.values()):
            log.warning(
                "model %s: no version AVAILABLE after the first load attempt%s", model.config.name, _hint(model)
            )
    service = Service(store, Metrics(store) if config.prometheus_path else None)
    if config.prometheus_path and not config.rest_port:
        log.warning("monitoring: no REST port, so Prometheus metrics are not served (as in TF Serving)")
    health = ModelHealth(store) if config.enable_grpc_healthcheck_service else None
    repository = ModelRepository(reconciler, health.update if health else None, config.model_repository_path)

    def after_reload() -> None:
        repository.reloaded()
        if health is not None:
            health.update()

    reloader = ConfigReloader(reconciler, config.allow_version_labels_for_unavailable_models, after_reload)
    try:
        reloader.check_labels()
    except FailedPrecondition as exc:
        raise ConfigError(
            f"version labels: {exc.message} (--allow_version_labels_for_unavailable_models allows it)"
        ) from None
    tls = GrpcTls(*config.tls.read()) if config.tls else config.grpc_tls
    grpc_server = start_grpc_server(
        service,
        config.port,
        config.grpc_workers,
        config.grpc_max_message_mb * 1024 * 1024,
        tls,
        config.enable_serialization_as_tensor_content,
        config.grpc_channel_arguments,
        health.servicer if health else None,
        reloader.reload_proto,
        repository,
        config.grpc_socket_path,
    )
    log.info(
        "gRPC TF Serving API listening on 0.0.0.0:%d%s (%d worker threads%s%s%s)",
        config.port,
        f" and UNIX socket {config.grpc_socket_path}" if config.grpc_socket_path else "",
        config.grpc_workers,
        (", TLS, client certificates required" if tls.client_verify else ", TLS") if tls else "",
        ", grpc.health.v1.Health" if health else "",
        "".join(f", {key}={value!r}" for key, value in config.grpc_channel_arguments),
    )
    poller = Poller(reconciler, config.poll_wait_seconds, health.update if health else None)
    poller.start()
    if config.poll_wait_seconds > 0:
        log.info("polling model base paths every %s s", config.poll_wait_seconds)
    else:
        log.info("model polling is off (file_system_poll_wait_seconds 0)")
    config_poller = None
    if config.model_config_file and config.model_config_file_poll_wait_seconds > 0:
        load = parse_text_config if config.model_config_file_format == "text" else load_config_file
        config_poller = ConfigFilePoller(
            config.model_config_file, load, config.model_config_file_poll_wait_seconds, reloader
        )
        config_poller.start()
        log.info(
            "reading %s again every %s s to apply changes",
            config.model_config_file,
            config.model_config_file_poll_wait_seconds,
        )
    return Runtime(reconciler, poller, service, grpc_server, repository, health, config_poller)


def _hint(model: ServedModel) -> str:
    """Why a model may have no version: a local base path that is itself a version directory."""
    path = pathlib.Path(model.config.base_path.removeprefix("file://"))
    if "://" not in model.config.base_path and path.name.isdigit():
        return f"; {path} looks like a version directory itself: give its parent, {path.parent}, as the base path"
    return ""


def serve_forever(config: ServerConfig) -> int:
    """Run until SIGTERM/SIGINT; return the process exit code.

    With a REST port, gunicorn hosts the REST app and runs `start` in its worker process."""
    if config.rest_port:
        return serve_http(config, start, config.shutdown_grace_seconds)
    try:
        runtime = start(config)
    except (StorageError, ConfigError, OSError) as exc:
        log.error("start-up failed: %s", exc)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stop.set())
    stop.wait()
    runtime.stop(config.shutdown_grace_seconds)
    return 0
