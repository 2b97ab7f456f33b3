"""tensorflow_model_server's own command line, for a drop-in switch:
`tensorflow_model_server --port=8500 --rest_api_port=8501 --model_name=m --model_base_path=/models/m`
(also `ie_serving` with the same flags), or `--model_config_file=models.config` in TF Serving's
text-protobuf format.

Every flag of TF Serving's main.cc is known by name (FLAGS). Each is either
- mapped: it means the same thing here and sets it (port, threads, REST timeout, CORS, ...);
- warned: it has no meaning here (TensorFlow sessions, XLA, TFLite, TPU, ...): accepted with
  one warning line naming it and saying why;
- refused: it has a meaning here that is not built yet (ALTS credentials, SavedModel tags
  other than `serve`, ...): start-up stops naming it, rather than quietly doing nothing.
A value that means what this server does anyway (`--use_alts_credentials=false`) is accepted
silently. A flag TF Serving does not have is refused (TF Serving prints it and starts anyway;
here a typo must not pass unnoticed).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import logging
import os
import re
from collections.abc import Sequence

from ie_serving.batching_config import server_batching
from ie_serving.config import (
    GrpcTls,
    ModelConfig,
    ServerConfig,
    build_server_config,
    flag_bool,
    parse_model,
    poll_wait_seconds,
)
from ie_serving.errors import ConfigError
from ie_serving.monitoring import prometheus_path
from ie_serving.protos.tensorflow_serving.config import model_server_config_pb2, ssl_config_pb2
from ie_serving.text_proto import read_text_proto

log = logging.getLogger(__name__)

PLATFORMS = ("", "tensorflow", "openvino")
MAPPED, WARNED, REFUSED = "mapped", "warned", "refused"
ALWAYS = ()  # `inert` of a flag whose every given value is warned about or refused
# TF Serving's int32 maximum message size (server.cc SetMaxMessageSize(int32 max)), in whole MB
TF_MAX_MESSAGE_MB = 2047


@dataclasses.dataclass(frozen=True)
class TfFlag:
    """One flag of tensorflow_model_server (model_servers/main.cc, defaults in server.h Options).

    kind: int, float, str or bool; default: TF Serving's default as its docs print it;
    treatment: MAPPED, WARNED or REFUSED; note: what this server does with it (mapped), why it
    has no meaning (warned) or what is not built yet (refused); inert: given values that mean
    what this server does anyway, accepted without a word (ALWAYS: none)."""

    name: str
    kind: type
    default: str
    treatment: str
    note: str
    inert: tuple = ALWAYS


def _cpus() -> int:
    """TF Serving's port::NumSchedulableCPUs()."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_TF_SESSION = "models run in OpenVINO, not in a TensorFlow session"
_TFLITE = "OpenVINO runs .tflite models itself; there are no TFLite interpreter pools"
_RETRIES = (
    "a version that failed to load is tried again at each poll (--file_system_poll_wait_seconds) "
    "once its files change, not a fixed number of times"
)

FLAGS: tuple[TfFlag, ...] = (
    TfFlag(
        "port",
        int,
        "8500",
        MAPPED,
        "gRPC port (0, which turns gRPC off in TF Serving, is refused: gRPC always listens)",
    ),
    TfFlag(
        "grpc_socket_path",
        str,
        '""',
        MAPPED,
        "gRPC also listens on this UNIX socket (`unix:PATH` for clients), with --ssl_config_file's TLS when given; "
        "the TCP port listens too (--port 0 stays refused)",
    ),
    TfFlag("rest_api_port", int, "0", MAPPED, "REST port; 0 opens no REST listener"),
    TfFlag(
        "rest_api_num_threads",
        int,
        "4 x CPUs",
        MAPPED,
        "REST request threads (`--rest_workers`); the default is TF Serving's, 4 x the schedulable CPUs",
    ),
    TfFlag(
        "rest_api_timeout_in_ms",
        int,
        "30000",
        MAPPED,
        "deadline of each REST predict: a request still waiting for a free infer request after this long "
        "answers 504 DEADLINE_EXCEEDED; an inference already running is not interrupted; 0 or less: no deadline",
    ),
    TfFlag(
        "rest_api_enable_cors_support",
        bool,
        "false",
        MAPPED,
        "REST answers carry TF Serving's CORS headers (Access-Control-Allow-Origin: *, "
        "Access-Control-Allow-Methods: POST, GET, Access-Control-Allow-Headers: Content-Type)",
    ),
    TfFlag(
        "enable_batching",
        bool,
        "false",
        MAPPED,
        "server-side batching of every model: concurrent requests merged along the batch dimension "
        "(defaults or --batching_parameters_file); a static batch dimension is compiled dynamic",
    ),
    TfFlag(
        "allow_version_labels_for_unavailable_models",
        bool,
        "false",
        MAPPED,
        "version labels may name versions that are not AVAILABLE (else such a label stops start-up or a reload)",
    ),
    TfFlag(
        "batching_parameters_file",
        str,
        '""',
        MAPPED,
        "text BatchingParameters: max_batch_size, batch_timeout_micros, max_enqueued_batches, num_batch_threads, "
        "thread_pool_name, allowed_batch_sizes, pad_variable_length_inputs (enable_large_batch_splitting true is "
        "refused); without --enable_batching it stops start-up, as in TF Serving",
    ),
    TfFlag(
        "enable_per_model_batching_parameters",
        bool,
        "false",
        MAPPED,
        "with --enable_batching, a version directory's batching_params.pbtxt sets its batching; "
        "versions without one are not batched, as in TF Serving",
    ),
    TfFlag(
        "model_config_file",
        str,
        '""',
        MAPPED,
        "TF Serving's text ModelServerConfig (`model_config_list`: name, base_path, model_platform, "
        "model_version_policy); wins over --model_name/--model_base_path, with a warning, as in TF Serving",
    ),
    TfFlag(
        "model_config_file_poll_wait_seconds",
        int,
        "0",
        MAPPED,
        "seconds between reads of --model_config_file; a changed file replaces the served models (0: never)",
    ),
    TfFlag("model_name", str, '"default"', MAPPED, "name of the single model"),
    TfFlag("model_base_path", str, '""', MAPPED, "base path of the single model (local, s3://, gs://)"),
    TfFlag("num_load_threads", int, "0", WARNED, "versions load one at a time, as with TF Serving's 0", (0,)),
    TfFlag("num_unload_threads", int, "0", WARNED, "versions unload one at a time, as with TF Serving's 0", (0,)),
    TfFlag("max_num_load_retries", int, "5", WARNED, _RETRIES),
    TfFlag("load_retry_interval_micros", int, "60000000", WARNED, _RETRIES),
    TfFlag(
        "file_system_poll_wait_seconds",
        float,
        "1",
        MAPPED,
        "seconds between polls of the base paths for new versions; 0: no polling after the first load "
        "(TF Serving polls once); negative (TF Serving's testing mode) is refused",
    ),
    TfFlag("flush_filesystem_caches", bool, "true", WARNED, "there are no TensorFlow file system caches to flush"),
    TfFlag(
        "tensorflow_session_parallelism",
        int,
        "0",
        MAPPED,
        "OpenVINO's INFERENCE_NUM_THREADS for every model, when --tensorflow_intra_op_parallelism is not set",
        (0,),
    ),
    TfFlag("tensorflow_session_config_file", str, '""', WARNED, _TF_SESSION, ("",)),
    TfFlag(
        "tensorflow_intra_op_parallelism",
        int,
        "0",
        MAPPED,
        "OpenVINO's INFERENCE_NUM_THREADS (threads of one inference) for every model; 0: OpenVINO chooses",
        (0,),
    ),
    TfFlag(
        "tensorflow_inter_op_parallelism",
        int,
        "0",
        WARNED,
        "OpenVINO has no inter-op thread pool (its streams run requests in parallel: "
        "NUM_STREAMS in `ie_serving model --plugin_config`)",
        (0,),
    ),
    TfFlag("use_alts_credentials", bool, "false", REFUSED, "ALTS credentials are not built", (False,)),
    TfFlag(
        "ssl_config_file",
        str,
        '""',
        MAPPED,
        "TF Serving's text SSLConfig (server_key, server_cert: PEM contents; custom_ca; client_verify): TLS on the "
        "gRPC port and socket, client certificates signed by custom_ca required with client_verify (which needs "
        "custom_ca here); REST stays plain HTTP, as in TF Serving",
    ),
    TfFlag("platform_config_file", str, '""', WARNED, _TF_SESSION + " (no TensorFlow platform to configure)", ("",)),
    TfFlag(
        "per_process_gpu_memory_fraction",
        float,
        "0",
        WARNED,
        "OpenVINO runs on the CPU here, no TensorFlow GPU",
        (0.0,),
    ),
    TfFlag(
        "saved_model_tags",
        str,
        '"serve"',
        REFUSED,
        "OpenVINO reads the SavedModel's `serve` MetaGraph; choosing other tags is not built",
        ("serve",),
    ),
    TfFlag("grpc_channel_arguments", str, '""', MAPPED, "`k=v,k=v` gRPC server options, integers as integers", ("",)),
    TfFlag(
        "grpc_max_threads",
        int,
        "4 x CPUs",
        MAPPED,
        "gRPC request threads (`--grpc_workers`); the default is TF Serving's, 4 x the schedulable CPUs",
    ),
    TfFlag(
        "enable_model_warmup",
        bool,
        "true",
        MAPPED,
        "replays a version's assets.extra/tf_serving_warmup_requests before it serves (false: no warmup)",
    ),
    TfFlag(
        "num_request_iterations_for_warmup",
        int,
        "0",
        MAPPED,
        "times each warmup record is replayed; 0 (or less) means once",
    ),
    TfFlag("version", bool, "false", MAPPED, "prints the version and exits 0"),
    TfFlag(
        "monitoring_config_file",
        str,
        '""',
        MAPPED,
        "text MonitoringConfig: with prometheus_config { enable: true }, the REST port serves Prometheus "
        "metrics at its path (default /monitoring/prometheus/metrics) with TF Serving's metric names",
    ),
    TfFlag(
        "remove_unused_fields_from_bundle_metagraph", bool, "true", WARNED, "no TensorFlow MetaGraph is kept in memory"
    ),
    TfFlag(
        "prefer_tflite_model",
        bool,
        "false",
        REFUSED,
        "choosing model.tflite inside a SavedModel directory is not built yet",
        (False,),
    ),
    TfFlag("num_tflite_pools", int, "CPUs", WARNED, _TFLITE),
    TfFlag("num_tflite_interpreters_per_pool", int, "1", WARNED, _TFLITE),
    TfFlag(
        "enable_signature_method_name_check",
        bool,
        "false",
        WARNED,
        "Classify and Regress serve any signature whose outputs fit, as TF Serving does by default; the method_name "
        "check is not built",
        (False,),
    ),
    TfFlag(
        "xla_cpu_compilation_enabled", bool, "false", WARNED, "OpenVINO compiles every model; there is no XLA", (False,)
    ),
    TfFlag(
        "xla_gpu_compilation_enabled", bool, "false", WARNED, "OpenVINO compiles every model; there is no XLA", (False,)
    ),
    TfFlag("enable_profiler", bool, "true", WARNED, "TensorFlow's profiler gRPC service is not served", (False,)),
    TfFlag("thread_pool_factory_config_file", str, '""', WARNED, _TF_SESSION + " (no TensorFlow thread pools)", ("",)),
    TfFlag(
        "mixed_precision",
        str,
        '""',
        MAPPED,
        "`bfloat16`: OpenVINO's INFERENCE_PRECISION_HINT bf16 for every model (default here: f32); "
        "another value is ignored with a warning, as TF Serving does",
        ("",),
    ),
    TfFlag("skip_initialize_tpu", bool, "false", WARNED, "there is no TPU", (False,)),
    TfFlag(
        "enable_grpc_healthcheck_service",
        bool,
        "false",
        MAPPED,
        "grpc.health.v1.Health on the gRPC port: SERVING once every model has an AVAILABLE version",
    ),
    TfFlag(
        "enable_serialization_as_tensor_content",
        bool,
        "false",
        MAPPED,
        "gRPC Predict outputs in tensor_content instead of the typed value fields (float_val, ...)",
    ),
)
BY_NAME = {flag.name: flag for flag in FLAGS}


def build_parser(prog: str = "ie_serving") -> argparse.ArgumentParser:
    """Every TF Serving flag, as `--flag=value` or `--flag value` (booleans also bare); a flag
    not given is None, so its TF Serving default and its treatment apply afterwards."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="tensorflow_model_server's flags, served by ie_serving over OpenVINO (docs/migrating.md "
        "says what each one does here). `ie_serving model --help` and `ie_serving config --help` show "
        "ie_serving's own command lines.",
    )
    for flag in FLAGS:
        help_text = f"(TF Serving default {flag.default}) {flag.treatment}: {flag.note}".replace("%", "%%")
        if flag.kind is bool:
            parser.add_argument(f"--{flag.name}", type=flag_bool, nargs="?", const=True, default=None, help=help_text)
        else:
            parser.add_argument(f"--{flag.name}", type=flag.kind, default=None, help=help_text)
    return parser


def asks_for_version(argv: Sequence[str], prog: str = "ie_serving") -> bool:
    """--version (or --version=true) among the flags: main.cc prints the version before it
    looks at anything else."""
    return build_parser(prog).parse_known_args(argv)[0].version is True


def version_text() -> str:
    """What --version prints: TF Serving's two lines, naming what actually serves."""
    try:
        openvino = importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        openvino = "unknown"
    from ie_serving import __version__

    return f"TensorFlow ModelServer: ie_serving {__version__}\nOpenVINO Runtime: {openvino}\n"


def _policy(proto: object) -> dict | None:
    """model_version_policy as the JSON form parse_policy validates (num_versions 0 refused there too)."""
    choice = proto.WhichOneof("policy_choice")
    if choice is None:
        return None
    if choice == "all":
        return {"all": {}}
    if choice == "latest":
        return {"latest": {"num_versions": proto.latest.num_versions} if proto.latest.HasField("num_versions") else {}}
    return {"specific": {"versions": list(proto.specific.versions)}}


def parse_text_config(path: str) -> tuple[ModelConfig, ...]:
    """Models from a TF Serving ModelServerConfig text file; errors name the line and field."""
    expected = "supported per model: name, base_path, model_platform, model_version_policy, version_labels"
    document = read_text_proto(path, model_server_config_pb2.ModelServerConfig(), "--model_config_file", expected)
    return models_from_proto(document, path)


def models_from_proto(document: model_server_config_pb2.ModelServerConfig, source: str) -> tuple[ModelConfig, ...]:
    """A ModelServerConfig's models (from a text file or a HandleReloadConfigRequest), validated
    as every config is; `source` names it in errors. Unique names are checked by the caller
    (build_server_config, or the reload)."""
    models = []
    for index, entry in enumerate(document.model_config_list.config):
        where = f"{source}: config[{index}]"
        if entry.model_platform not in PLATFORMS:
            raise ConfigError(
                f"{where}.model_platform: {entry.model_platform!r} is not served; use one of {PLATFORMS[1:]}"
            )
        raw = {
            "name": entry.name,
            "base_path": entry.base_path,
            "model_version_policy": _policy(entry.model_version_policy),
            "version_labels": dict(entry.version_labels),
        }
        models.append(parse_model(raw, where))
    if not models:
        raise ConfigError(f"{source}: model_config_list holds no config")
    return tuple(models)


def parse_channel_arguments(text: str) -> tuple[tuple[str, int | str], ...]:
    """--grpc_channel_arguments "k=v,k=v" as server.cc parseGrpcChannelArgs reads it: split on
    commas, then on '='; a value that parses as an int32 (absl::SimpleAtoi) is passed as an
    integer, any other as a string. An item without '=' (undefined in TF Serving) is refused."""
    arguments: list[tuple[str, int | str]] = []
    for item in text.split(","):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ConfigError(f"--grpc_channel_arguments: expected key=value items separated by commas, got {item!r}")
        stripped = value.strip()
        if re.fullmatch(r"[+-]?\d+", stripped) and -(2**31) <= int(stripped) < 2**31:
            arguments.append((key.strip(), int(stripped)))
        else:
            arguments.append((key.strip(), value))
    return tuple(arguments)


def _check_treatments(given: dict[str, object]) -> None:
    """One warning line per given flag without a meaning here; ConfigError naming every given
    flag whose feature is not built yet."""
    refused = []
    for name, value in given.items():
        flag = BY_NAME[name]
        if flag.treatment == MAPPED or value in flag.inert:
            continue
        if flag.treatment == WARNED:
            log.warning("--%s=%s accepted and ignored: %s", name, _shown(value), flag.note)
        else:
            refused.append(f"--{name}={_shown(value)}: {flag.note}")
    if refused:
        raise ConfigError(
            "tensorflow_model_server flag(s) whose feature is not built in ie_serving yet (remove them to start "
            "without it): " + "; ".join(refused)
        )


def _shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _thread_count(given: dict[str, object]) -> int | None:
    """INFERENCE_NUM_THREADS from intra-op parallelism, else session parallelism (server.cc);
    intra, inter and session parallelism all set is refused as TF Serving refuses it."""
    intra = given.get("tensorflow_intra_op_parallelism") or 0
    inter = given.get("tensorflow_inter_op_parallelism") or 0
    session = given.get("tensorflow_session_parallelism") or 0
    if intra > 0 and inter > 0 and session > 0:
        raise ConfigError(
            "either configure --tensorflow_session_parallelism or (--tensorflow_intra_op_parallelism, "
            "--tensorflow_inter_op_parallelism) separately, not all three (as TF Serving)"
        )
    for name, value in (("tensorflow_intra_op_parallelism", intra), ("tensorflow_session_parallelism", session)):
        if value < 0:
            raise ConfigError(f"--{name}: expected a number of threads >= 0 (0: OpenVINO chooses), got {value}")
    return intra if intra > 0 else session if session > 0 and inter <= 0 else None


def _model_properties(given: dict[str, object]) -> dict[str, object]:
    """OpenVINO properties every model gets from the flags (a model's own plugin_config wins)."""
    properties: dict[str, object] = {}
    threads = _thread_count(given)
    if threads is not None:
        properties["INFERENCE_NUM_THREADS"] = threads
        log.info("OpenVINO INFERENCE_NUM_THREADS %d for every model (TF Serving's op parallelism flags)", threads)
    precision = given.get("mixed_precision")
    if precision == "bfloat16":
        properties["INFERENCE_PRECISION_HINT"] = "bf16"
        log.info("OpenVINO INFERENCE_PRECISION_HINT bf16 for every model (--mixed_precision=bfloat16)")
    elif precision:
        log.warning(
            "--mixed_precision=%s accepted and ignored: only bfloat16 has a meaning, as in TF Serving", precision
        )
    return properties


def _positive(given: dict[str, object], name: str, default: int) -> int:
    value = given.get(name)
    if value is None:
        return default
    if value < 1:  # type: ignore[operator]
        raise ConfigError(f"--{name}: expected a number of threads >= 1, got {value}")
    return value  # type: ignore[return-value]


def config_from_tf_flags(argv: Sequence[str], prog: str = "ie_serving") -> ServerConfig:
    """A ServerConfig from tensorflow_model_server flags; ConfigError names what is wrong.
    Logs one warning per accepted flag that has no meaning here (logging must be set up)."""
    args, unknown = build_parser(prog).parse_known_args(argv)
    if unknown:
        raise ConfigError(
            f"unknown flag(s) {' '.join(unknown)}: tensorflow_model_server has no such flag ({prog} --help lists "
            "them; flags such as --model_path and --rest_port belong to the `ie_serving model` and "
            "`ie_serving config` commands)"
        )
    given = {name: value for name, value in vars(args).items() if value is not None}
    _check_treatments(given)
    if args.model_config_file:
        if args.model_base_path:
            log.warning(
                "--model_config_file %s is served; --model_name and --model_base_path are ignored, as in TF Serving",
                args.model_config_file,
            )
        models = parse_text_config(args.model_config_file)
    elif args.model_base_path:
        models = (ModelConfig(name=args.model_name or "default", base_path=args.model_base_path),)
    else:
        raise ConfigError("give either --model_config_file or --model_base_path (with --model_name)")
    properties = _model_properties(given)
    if properties:
        models = tuple(dataclasses.replace(m, plugin_config={**properties, **m.plugin_config}) for m in models)
    timeout_ms = 30000 if args.rest_api_timeout_in_ms is None else args.rest_api_timeout_in_ms
    return build_server_config(
        models,
        args.model_config_file or "--model_base_path",
        {
            "port": "--port",
            "rest_port": "--rest_api_port",
            "rest_workers": "--rest_api_num_threads",
            "grpc_workers": "--grpc_max_threads",
        },
        port=8500 if args.port is None else args.port,
        rest_port=args.rest_api_port or 0,
        rest_workers=_positive(given, "rest_api_num_threads", 4 * _cpus()),
        grpc_workers=_positive(given, "grpc_max_threads", 4 * _cpus()),
        grpc_max_message_mb=TF_MAX_MESSAGE_MB,
        grpc_channel_arguments=parse_channel_arguments(args.grpc_channel_arguments)
        if args.grpc_channel_arguments
        else (),
        rest_timeout_ms=timeout_ms if timeout_ms > 0 else None,
        rest_cors=bool(args.rest_api_enable_cors_support),
        prometheus_path=prometheus_path(args.monitoring_config_file) if args.monitoring_config_file else None,
        poll_wait_seconds=poll_wait_seconds(args.file_system_poll_wait_seconds),
        enable_serialization_as_tensor_content=bool(args.enable_serialization_as_tensor_content),
        warmup_iterations=_warmup_iterations(args),
        allow_version_labels_for_unavailable_models=bool(args.allow_version_labels_for_unavailable_models),
        model_config_file=args.model_config_file or None,
        model_config_file_format="text",
        model_config_file_poll_wait_seconds=float(args.model_config_file_poll_wait_seconds or 0),
        enable_grpc_healthcheck_service=bool(args.enable_grpc_healthcheck_service),
        batching=server_batching(bool(args.enable_batching), args.batching_parameters_file),
        per_model_batching=bool(args.enable_batching and args.enable_per_model_batching_parameters),
        grpc_tls=parse_ssl_config(args.ssl_config_file) if args.ssl_config_file else None,
        grpc_socket_path=args.grpc_socket_path or None,
    )


def parse_ssl_config(path: str) -> GrpcTls:
    """TF Serving's --ssl_config_file (model_servers/server.cc BuildServerCredentials): a text
    SSLConfig whose fields hold PEM contents; ConfigError names what is missing."""
    expected = (
        'expected server_key: "-----BEGIN PRIVATE KEY-----..." server_cert: "-----BEGIN CERTIFICATE-----..." '
        '[custom_ca: "..."] [client_verify: true]'
    )
    ssl = read_text_proto(path, ssl_config_pb2.SSLConfig(), "--ssl_config_file", expected)
    missing = [field for field in ("server_key", "server_cert") if not getattr(ssl, field).strip()]
    if missing:
        raise ConfigError(f"--ssl_config_file {path}: {' and '.join(missing)} empty; {expected}")
    if ssl.client_verify and not ssl.custom_ca.strip():
        raise ConfigError(
            f"--ssl_config_file {path}: client_verify: true needs custom_ca, the PEM of the CA that signs the client "
            "certificates (TF Serving falls back on the system roots; gRPC's Python server needs the CA given)"
        )
    return GrpcTls(ssl.server_key.encode(), ssl.server_cert.encode(), ssl.custom_ca.encode() or None, ssl.client_verify)


def _warmup_iterations(args: argparse.Namespace) -> int:
    """TF Serving's warmup flags: --enable_model_warmup (default true) and
    --num_request_iterations_for_warmup (used only when > 0; else each record runs once)."""
    if args.enable_model_warmup is False:
        return 0
    iterations = args.num_request_iterations_for_warmup
    return iterations if iterations is not None and iterations > 0 else 1
