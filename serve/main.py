"""`serve`: the SageMaker container's entrypoint.

HTTP on SAGEMAKER_BIND_TO_PORT (/ping, /invocations and the TF Serving REST routes) and gRPC on
SAGEMAKER_GRPC_PORT, one ModelStore per gunicorn worker, hosted by the same code as
`ie_serving --rest_port` (ie_serving.hosting). With SAGEMAKER_MULTI_MODEL=true it starts with no
model and adds the /models routes (multi_model.py) over SAGEMAKER_MULTI_MODEL_DIR.
Exit codes: 0 after SIGTERM, 1 when start-up fails, 2 for a bad environment variable or model
directory.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import pathlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ie_serving.config import ServerConfig, build_server_config
from ie_serving.errors import ConfigError
from ie_serving.logs import setup_logging
from serve import custom_code, layout, settings

if TYPE_CHECKING:  # imported in the worker only: OpenVINO loads once settings are valid
    from flask import Blueprint, Flask, Response

    from ie_serving.runtime import Runtime

log = logging.getLogger(__name__)

# SageMaker stops a container 30 s after SIGTERM: in-flight requests get 20 s, gunicorn 5 s more.
SHUTDOWN_GRACE_SECONDS = 20.0


def _app(
    runtime: Runtime,
    config: ServerConfig,
    *,
    default_model: str | None,
    code_dir: pathlib.Path | None,
    env: settings.Settings,
) -> Flask:
    """Runs in each worker: import the custom code there, then build the app."""
    from serve.multi_model import MultiModel
    from serve.routes import create_sagemaker_app

    code = custom_code.load(code_dir) if code_dir is not None else None
    multi_model = None
    if env.multi_model:
        runtime.repository.withdraw("the multi-model endpoint (POST and DELETE /models) loads and unloads models")

        def multi_model(invoke: Callable[..., Response]) -> Blueprint:
            return MultiModel(
                runtime.reconciler,
                env.multi_model_dir,
                env.max_model_memory_mb,
                env.nireq,
                invoke,
                settings.plugin_config(env),
            ).blueprint()

    ports = (config.rest_port, env.grpc_port)
    return create_sagemaker_app(
        runtime.service,
        config.rest_max_body_mb,
        default_model,
        code,
        ports,
        multi_model,
        settings.execution_parameters(env),
        runtime.repository,
    )


def _models(env: settings.Settings) -> tuple[layout.Layout, pathlib.Path | None]:
    """The models to start with and the custom code directory: SM_MODEL_DIR/code, or for a
    multi-model endpoint (which starts empty) the universal SAGEMAKER_MULTI_MODEL_DIR/code that
    every model without code of its own uses. ConfigError for a bad model directory."""
    if env.multi_model:
        if not env.multi_model_dir.is_dir():
            raise ConfigError(f"SAGEMAKER_MULTI_MODEL_DIR: {str(env.multi_model_dir)!r} is not a directory")
        custom_code.prepare(env.multi_model_dir / "code")
        return layout.Layout((), None), env.multi_model_dir / "code"
    code_dir = env.model_dir / "code"
    custom_code.prepare(code_dir)
    found = layout.resolve(env.model_dir, env.default_model_name, env.nireq)
    defaults = settings.plugin_config(env)
    models = tuple(dataclasses.replace(m, plugin_config={**defaults, **m.plugin_config}) for m in found.models)
    return layout.Layout(models, found.default_model), code_dir


def main() -> int:
    try:
        setup_logging()
        env = settings.from_environ()
        models, code_dir = _models(env)
    except ConfigError as exc:
        print(f"serve: error: {exc}", file=sys.stderr)
        return 2
    try:
        config = build_server_config(
            models.models,
            str(env.model_dir),
            {
                "port": "SAGEMAKER_GRPC_PORT",
                "rest_port": "SAGEMAKER_BIND_TO_PORT",
                "rest_workers": "SAGEMAKER_GUNICORN_THREADS",
                "rest_max_body_mb": "SAGEMAKER_MAX_PAYLOAD_IN_MB",
            },
            port=env.grpc_port,
            rest_port=env.http_port,
            rest_workers=env.threads,
            rest_max_body_mb=env.max_payload_mb,
            prometheus_path=env.prometheus_path,
            batching=settings.batching(env),
        )
    except ConfigError as exc:
        print(f"serve: error: {exc}", file=sys.stderr)
        return 2
    from ie_serving.hosting import Hosting, serve  # OpenVINO is imported only once settings are valid
    from ie_serving.runtime import start

    hosting = Hosting(
        make_app=functools.partial(_app, default_model=models.default_model, code_dir=code_dir, env=env),
        workers=env.workers,
        worker_class="serve.worker.PingFirstWorker",
        timeout=env.timeout_seconds,
        proc_name="serve",
        log_level=env.gunicorn_log_level,
        api_name="SageMaker HTTP (/ping, /invocations, TF Serving REST)",
    )
    # the default model as resolved from the model directory, not only the variable that may name it
    log.info("serve: %s", {**dataclasses.asdict(env), "default_model_name": models.default_model})
    for line in settings.no_effect(env):
        log.warning("%s", line)
    if config.batching is not None:
        for line in settings.defaulted_batching():
            log.warning("%s", line)
        log.info("batching for every model: %s", config.batching.describe())
    return serve(config, start, SHUTDOWN_GRACE_SECONDS, hosting)
