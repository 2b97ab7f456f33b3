"""SageMaker's environment variables, read and validated once at start-up.

AWS's TF Serving container reads more variables than have a meaning here (its nginx, TF
Serving's threads and GPU memory, gevent): each of those that is set is named in a start-up
warning (`no_effect`), never silently ignored. SAGEMAKER_TFS_ENABLE_BATCHING must be true or
false, as AWS requires; `true` turns on server-side batching with SAGEMAKER_TFS_MAX_BATCH_SIZE,
SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS, SAGEMAKER_TFS_NUM_BATCH_THREADS and
SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES, with AWS's defaults (tfs_utils.py create_batching_config).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
from collections.abc import Mapping

from ie_serving.batching_config import BatchingParameters, schedulable_cpus
from ie_serving.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Settings:
    """What `serve` takes from the environment (defaults are AWS's TF Serving container's)."""

    http_port: int = 8080
    grpc_port: int = 9000
    model_dir: pathlib.Path = pathlib.Path("/opt/ml/model")
    default_model_name: str | None = None  # SAGEMAKER_TFS_DEFAULT_MODEL_NAME when set
    workers: int = 1
    threads: int = 8
    timeout_seconds: int = 60  # SAGEMAKER_GUNICORN_TIMEOUT_SECONDS (AWS), else SAGEMAKER_MODEL_SERVER_TIMEOUT
    gunicorn_log_level: str = "info"  # SAGEMAKER_GUNICORN_LOGLEVEL: gunicorn's own messages
    intra_op_threads: int | None = None  # SAGEMAKER_TFS_INTRA_OP_PARALLELISM: OpenVINO's threads per model
    enable_batching: bool = False  # SAGEMAKER_TFS_ENABLE_BATCHING
    max_batch_size: int = 8  # SAGEMAKER_TFS_MAX_BATCH_SIZE
    batch_timeout_micros: int = 1000  # SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS
    num_batch_threads: int | None = None  # SAGEMAKER_TFS_NUM_BATCH_THREADS; None: the CPUs
    max_enqueued_batches: int | None = None  # SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES; None: AWS's default
    batch_transform: bool = False  # SAGEMAKER_BATCH is set (Batch Transform): AWS's max_enqueued_batches 100000000
    nireq: int | None = None
    max_payload_mb: int | None = None  # SAGEMAKER_MAX_PAYLOAD_IN_MB; none: no cap, as AWS's nginx
    multi_model: bool = False  # SAGEMAKER_MULTI_MODEL=true: start empty, load through /models
    multi_model_dir: pathlib.Path = pathlib.Path("/opt/ml/models")  # SAGEMAKER_MULTI_MODEL_DIR
    max_model_memory_mb: int | None = None  # SAGEMAKER_MAX_MODEL_MEMORY_MB
    prometheus_path: str | None = None  # SAGEMAKER_PROMETHEUS_PATH: serve Prometheus metrics there


# AWS's variables that change nothing here, with the reason named in the warning.
NO_EFFECT = {
    "SAGEMAKER_TFS_INSTANCE_COUNT": "one process serves every request (use SAGEMAKER_GUNICORN_THREADS)",
    "SAGEMAKER_TFS_INTER_OP_PARALLELISM": "OpenVINO has no inter-op thread pool to size",
    "SAGEMAKER_TFS_FRACTIONAL_GPU_MEM_MARGIN": "models run on the CPU",
    "SAGEMAKER_TFS_NGINX_LOGLEVEL": "there is no nginx (LOG_LEVEL sets the server's log level)",
    "SAGEMAKER_NGINX_PROXY_READ_TIMEOUT_SECONDS": "there is no nginx",
    "SAGEMAKER_GUNICORN_WORKER_CLASS": "the worker is a gthread worker with its own /ping pool",
    "SAGEMAKER_TFS_VERSION": "this server is not TF Serving",
    "SAGEMAKER_TFS_WAIT_TIME_SECONDS": "/ping answers 503 until every model is loaded",
    "SAGEMAKER_MULTI_MODEL_UNIVERSAL_BUCKET": "universal scripts are not fetched from S3",
    "SAGEMAKER_MULTI_MODEL_UNIVERSAL_PREFIX": "universal scripts are not fetched from S3",
}
GUNICORN_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def plugin_config(settings: Settings) -> dict[str, int]:
    """OpenVINO properties every model gets from the environment (a model's own win)."""
    return {} if settings.intra_op_threads is None else {"INFERENCE_NUM_THREADS": settings.intra_op_threads}


def execution_parameters(settings: Settings) -> dict[str, object]:
    """GET /execution-parameters for Batch Transform: one transform per request thread, several
    records per request (JSON lists and CSV lines are batches), and SageMaker's default 6 MB
    payload, or the configured cap (at most Batch Transform's 100 MB)."""
    return {
        "MaxConcurrentTransforms": settings.workers * settings.threads,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6 if settings.max_payload_mb is None else min(settings.max_payload_mb, 100),
    }


def no_effect(settings: Settings, environ: Mapping[str, str] = os.environ) -> list[str]:
    """One line per AWS variable that is set but changes nothing here, with the reason."""
    lines = [f"{name}={environ[name]!r} has no effect: {why}" for name, why in NO_EFFECT.items() if name in environ]
    if not settings.enable_batching:
        lines += [
            f"{name}={environ[name]!r} has no effect: SAGEMAKER_TFS_ENABLE_BATCHING is not true"
            for name in BATCHING_VARIABLES
            if name in environ
        ]
    return lines


# AWS's batching variables (tfs_utils.py create_batching_config), in its order
BATCHING_VARIABLES = (
    "SAGEMAKER_TFS_MAX_BATCH_SIZE",
    "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS",
    "SAGEMAKER_TFS_NUM_BATCH_THREADS",
    "SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES",
)
# tfs_utils.py: "Batch limits number of concurrent requests, which limits number of enqueued
# batches, so this can be set high for Batch"
BATCH_TRANSFORM_MAX_ENQUEUED_BATCHES = 100000000


def batching(settings: Settings) -> BatchingParameters | None:
    """The batching parameters every model gets with SAGEMAKER_TFS_ENABLE_BATCHING=true: AWS's
    defaults (max_batch_size 8, batch_timeout_micros 1000, num_batch_threads and
    max_enqueued_batches the CPU count, max_enqueued_batches 100000000 under Batch Transform)."""
    if not settings.enable_batching:
        return None
    cpus = schedulable_cpus()
    enqueued = BATCH_TRANSFORM_MAX_ENQUEUED_BATCHES if settings.batch_transform else cpus
    return BatchingParameters(
        max_batch_size=settings.max_batch_size,
        batch_timeout_micros=settings.batch_timeout_micros,
        num_batch_threads=settings.num_batch_threads or cpus,
        max_enqueued_batches=settings.max_enqueued_batches or enqueued,
    )


def defaulted_batching(environ: Mapping[str, str] = os.environ) -> list[str]:
    """AWS's warning for each batching variable left to its default (with batching on)."""
    return [
        f"{name} not set: its default is used; tuning it may yield better performance"
        for name in BATCHING_VARIABLES
        if name not in environ
    ]


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not re.fullmatch(r"\d+", text) or int(text) < minimum:
        raise ConfigError(f"{name}: expected an integer >= {minimum}, got {environ[name]!r}")
    return int(text)


def _safe_range(environ: Mapping[str, str]) -> tuple[int, int] | None:
    text = environ.get("SAGEMAKER_SAFE_PORT_RANGE", "").strip()
    if not text:
        return None
    match = re.fullmatch(r"(\d+)-(\d+)", text)
    if not match or not 0 < int(match[1]) <= int(match[2]) <= 65535:
        raise ConfigError(f"SAGEMAKER_SAFE_PORT_RANGE: expected LOW-HIGH like 9000-9999, got {text!r}")
    return int(match[1]), int(match[2])


def _flag(environ: Mapping[str, str], name: str) -> bool:
    text = environ.get(name, "").strip().lower()
    if text not in ("", "true", "false"):
        raise ConfigError(f"{name}: expected true or false, got {environ[name]!r}")
    return text == "true"


def grpc_port(environ: Mapping[str, str], http_port: int) -> int:
    """SAGEMAKER_GRPC_PORT when set; else the first port of SAGEMAKER_SAFE_PORT_RANGE that is
    not the HTTP port (SageMaker keeps that range free for the container); else 9000."""
    if environ.get("SAGEMAKER_GRPC_PORT", "").strip():
        port = _int(environ, "SAGEMAKER_GRPC_PORT", 9000, 1)
    elif (safe := _safe_range(environ)) is not None:
        candidates = [p for p in range(safe[0], safe[1] + 1) if p != http_port]
        if not candidates:
            raise ConfigError(f"SAGEMAKER_SAFE_PORT_RANGE: {safe[0]}-{safe[1]} has no port besides HTTP {http_port}")
        port = candidates[0]
    else:
        port = 9000
    if port > 65535 or port == http_port:
        raise ConfigError(f"SAGEMAKER_GRPC_PORT: expected a port 1-65535 other than HTTP {http_port}, got {port}")
    return port


def _prometheus_path(environ: Mapping[str, str]) -> str | None:
    """SAGEMAKER_PROMETHEUS_PATH: a URL path such as /monitoring/prometheus/metrics (TF Serving's
    default), where the HTTP port serves Prometheus metrics; unset or empty: none."""
    text = environ.get("SAGEMAKER_PROMETHEUS_PATH", "").strip()
    if not text:
        return None
    if not text.startswith("/") or re.search(r"[<>?#\s]", text) or text in ("/ping", "/invocations"):
        raise ConfigError(
            "SAGEMAKER_PROMETHEUS_PATH: expected a URL path such as /monitoring/prometheus/metrics "
            f"(starting with '/', not /ping or /invocations), got {environ['SAGEMAKER_PROMETHEUS_PATH']!r}"
        )
    return text


def from_environ(environ: Mapping[str, str] = os.environ) -> Settings:
    """Settings from the environment; ConfigError names the variable and what it accepts."""
    http_port = _int(environ, "SAGEMAKER_BIND_TO_PORT", 8080, 1)
    if http_port > 65535:
        raise ConfigError(f"SAGEMAKER_BIND_TO_PORT: expected a port 1-65535, got {http_port}")
    nireq = _int(environ, "SAGEMAKER_NIREQ", 0, 0)
    workers = _int(environ, "SAGEMAKER_GUNICORN_WORKERS", 1, 1)
    multi_model = _flag(environ, "SAGEMAKER_MULTI_MODEL")
    if multi_model and workers > 1:
        raise ConfigError(
            f"SAGEMAKER_GUNICORN_WORKERS={workers} with SAGEMAKER_MULTI_MODEL=true: each worker has its own "
            "model store, so a model loaded through POST /models would exist in one worker only; use 1 worker "
            "(and SAGEMAKER_GUNICORN_THREADS for concurrency)"
        )
    memory_limit = _int(environ, "SAGEMAKER_MAX_MODEL_MEMORY_MB", 0, 1)
    log_level = environ.get("SAGEMAKER_GUNICORN_LOGLEVEL", "").strip().lower() or "info"
    if log_level not in GUNICORN_LOG_LEVELS:
        raise ConfigError(
            f"SAGEMAKER_GUNICORN_LOGLEVEL: expected one of {', '.join(GUNICORN_LOG_LEVELS)}, "
            f"got {environ['SAGEMAKER_GUNICORN_LOGLEVEL']!r}"
        )
    timeout = _int(environ, "SAGEMAKER_MODEL_SERVER_TIMEOUT", 60, 1)
    intra_op = _int(environ, "SAGEMAKER_TFS_INTRA_OP_PARALLELISM", 0, 0)
    return Settings(
        http_port=http_port,
        grpc_port=grpc_port(environ, http_port),
        model_dir=pathlib.Path(environ.get("SM_MODEL_DIR") or "/opt/ml/model"),
        default_model_name=environ.get("SAGEMAKER_TFS_DEFAULT_MODEL_NAME") or None,
        workers=workers,
        threads=_int(environ, "SAGEMAKER_GUNICORN_THREADS", 8, 1),
        timeout_seconds=_int(environ, "SAGEMAKER_GUNICORN_TIMEOUT_SECONDS", timeout, 1),
        gunicorn_log_level=log_level,
        intra_op_threads=intra_op or None,
        enable_batching=_flag(environ, "SAGEMAKER_TFS_ENABLE_BATCHING"),  # AWS refuses all but true/false
        max_batch_size=_int(environ, "SAGEMAKER_TFS_MAX_BATCH_SIZE", 8, 1),
        batch_timeout_micros=_int(environ, "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS", 1000, 0),
        num_batch_threads=_int(environ, "SAGEMAKER_TFS_NUM_BATCH_THREADS", 0, 1) or None,
        max_enqueued_batches=_int(environ, "SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES", 0, 1) or None,
        batch_transform=bool(environ.get("SAGEMAKER_BATCH", "").strip()),
        nireq=nireq or None,
        max_payload_mb=_int(environ, "SAGEMAKER_MAX_PAYLOAD_IN_MB", 0, 1) or None,
        multi_model=multi_model,
        multi_model_dir=pathlib.Path(environ.get("SAGEMAKER_MULTI_MODEL_DIR") or "/opt/ml/models"),
        max_model_memory_mb=memory_limit or None,
        prometheus_path=_prometheus_path(environ),
    )
