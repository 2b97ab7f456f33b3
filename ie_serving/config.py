"""Model and server configuration: parsed and validated once at start-up.

Every error names the field, the value that came and what is accepted, so a user can fix
the flag or the config file without reading code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ie_serving.batching_config import BatchingParameters
from ie_serving.batching_config import from_json as parse_batching
from ie_serving.errors import ConfigError
from ie_serving.versions import VersionPolicy, parse_policy

Dims = tuple[int, ...]
ShapeSpec = None | str | Dims | dict[str, str | Dims]

MODEL_KEYS = (
    "name",
    "base_path",
    "batch_size",
    "shape",
    "model_version_policy",
    "nireq",
    "target_device",
    "plugin_config",
    "static_batch_one",
    "version_labels",
    "batching",
    "color_format",
    "layout",
    "mean",
    "scale",
)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One served model: where its versions live and how to compile them."""

    name: str
    base_path: str
    batch_size: int | str | None = None
    shape: ShapeSpec = None
    version_policy: VersionPolicy = VersionPolicy()
    nireq: int | None = None
    target_device: str = "CPU"
    plugin_config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # also compile a static batch-1 copy when the batch is the only dynamic dimension
    static_batch_one: bool = True
    # TF Serving's version labels: label -> version number (e.g. {"stable": 1, "canary": 2})
    version_labels: Mapping[str, int] = dataclasses.field(default_factory=dict)
    # server-side batching: parameters (on), False (off whatever the server's flags say), None
    # (the server's flags decide: --enable_batching, SAGEMAKER_TFS_ENABLE_BATCHING)
    batching: BatchingParameters | bool | None = None
    # encoded images (JPEG, PNG) sent to a numeric image input: channel order, layout when the
    # input's shape does not tell, and (pixel - mean) / scale (none: pixels as they are)
    color_format: str = "RGB"
    layout: str | None = None
    mean: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None


DEFAULT_MAX_QUEUED = 64  # requests per model version that may wait for a free infer request


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate chain and its private key, read once at start-up."""

    cert_file: pathlib.Path
    key_file: pathlib.Path

    def read(self) -> tuple[bytes, bytes]:
        """(key, certificate chain) bytes; ConfigError names the unreadable file."""
        contents = []
        for flag, path in (("--tls_key_file", self.key_file), ("--tls_cert_file", self.cert_file)):
            try:
                contents.append(path.read_bytes())
            except OSError as exc:
                raise ConfigError(f"{flag}: cannot read {str(path)!r}: {exc.strerror}") from None
        return contents[0], contents[1]


@dataclasses.dataclass(frozen=True)
class GrpcTls:
    """TLS of the gRPC listener: PEM key and certificate chain; custom_ca and client_verify as
    TF Serving's SSLConfig has them (--ssl_config_file): client certificates signed by
    custom_ca are required when client_verify."""

    key: bytes
    chain: bytes
    custom_ca: bytes | None = None
    client_verify: bool = False


def parse_tls(cert_file: pathlib.Path | None, key_file: pathlib.Path | None) -> TlsFiles | None:
    """Both files or neither; both must be readable."""
    if cert_file is None and key_file is None:
        return None
    if cert_file is None or key_file is None:
        raise ConfigError("--tls_cert_file and --tls_key_file go together: give both or neither")
    tls = TlsFiles(cert_file, key_file)
    tls.read()
    return tls


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """The whole server: models plus listener and polling settings."""

    models: tuple[ModelConfig, ...]
    port: int = 9000
    rest_port: int = 0
    grpc_workers: int = 16
    rest_workers: int = 8
    rest_max_body_mb: int | None = 100  # None: no limit (serve without SAGEMAKER_MAX_PAYLOAD_IN_MB)
    grpc_max_message_mb: int = 256
    poll_wait_seconds: float = 1.0
    model_cache_dir: pathlib.Path | None = None  # where remote versions are downloaded
    # a directory whose subdirectories the v2 model repository extension loads by name (Triton's layout)
    model_repository_path: pathlib.Path | None = None
    max_queued_requests: int = DEFAULT_MAX_QUEUED  # per version, waiting for a free infer request
    compile_cache_dir: pathlib.Path | None = None  # OpenVINO's compiled-model cache
    shutdown_grace_seconds: float = 10.0  # in-flight requests may finish this long after SIGTERM
    tls: TlsFiles | None = None  # TLS for gRPC and HTTPS for REST when given
    grpc_tls: GrpcTls | None = None  # TLS for gRPC only (TF Serving's --ssl_config_file)
    grpc_socket_path: str | None = None  # gRPC also listens on this UNIX socket (TF Serving's flag)
    # gRPC Predict outputs in tensor_content instead of the typed fields (TF Serving's flag)
    enable_serialization_as_tensor_content: bool = False
    # extra gRPC server options (TF Serving's --grpc_channel_arguments), over the server's own
    grpc_channel_arguments: tuple[tuple[str, int | str], ...] = ()
    rest_timeout_ms: int | None = None  # deadline of a REST predict (TF Serving's --rest_api_timeout_in_ms)
    rest_cors: bool = False  # CORS headers on REST answers (TF Serving's --rest_api_enable_cors_support)
    # the REST port's path of Prometheus metrics (TF Serving's --monitoring_config_file); None: off
    prometheus_path: str | None = None
    # times each SavedModel warmup record is replayed before its version serves; 0: no warmup
    warmup_iterations: int = 1
    enable_grpc_healthcheck_service: bool = False  # grpc.health.v1.Health on the gRPC port
    # version labels may name versions that are not AVAILABLE (TF Serving's flag of that name)
    allow_version_labels_for_unavailable_models: bool = False
    # the config file the models came from, its format ("text": TF Serving's, "json"), and how
    # often it is read again to apply changes (0: never)
    model_config_file: str | None = None
    model_config_file_format: str = "json"
    model_config_file_poll_wait_seconds: float = 0.0
    # server-side batching for every model without its own `batching` (TF Serving's
    # --enable_batching and --batching_parameters_file); None: off
    batching: BatchingParameters | None = None
    # TF Serving's --enable_per_model_batching_parameters: batching_params.pbtxt in a version directory
    per_model_batching: bool = False


def _int_at_least(field: str, value: object, minimum: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{field}: expected an integer >= {minimum}, got {value!r}")
    return value


def parse_batch_size(value: object, field: str = "batch_size") -> int | str | None:
    """None (the model's own), "auto" (dynamic batch) or a positive integer."""
    if value is None or value == "":
        return None
    if value == "auto":
        return "auto"
    try:
        return _int_at_least(field, value, 1)
    except ConfigError:
        raise ConfigError(f'{field}: expected a positive integer or "auto", got {value!r}') from None


def _parse_dims(field: str, value: object) -> Dims:
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[(\[]\s*-?\d+(\s*,\s*-?\d+)*\s*,?\s*[)\]]", text):
            raise ConfigError(f'{field}: expected dimensions like "(1,3,224,224)" or "auto", got {value!r}')
        value = [int(d) for d in re.findall(r"-?\d+", text)]
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f'{field}: expected dimensions like [1, 3, 224, 224] or "auto", got {value!r}')
    dims = []
    for dim in value:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < -1 or dim == 0:
            raise ConfigError(f"{field}: dimensions must be positive integers or -1 (dynamic), got {value!r}")
        dims.append(dim)
    return tuple(dims)


def parse_shape(value: object, field: str = "shape") -> ShapeSpec:
    """None, "auto", dimensions for a single-input model, or {input: dims | "auto"}."""
    if value is None or value == "":
        return None
    if value == "auto":
        return "auto"
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{field}: invalid JSON ({exc.msg}): {value!r}") from None
    if isinstance(value, Mapping):
        return {
            str(name): "auto" if dims == "auto" else _parse_dims(f"{field}.{name}", dims)
            for name, dims in value.items()
        }
    return _parse_dims(field, value)


def _parse_json_object(field: str, value: object) -> dict:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{field}: invalid JSON ({exc.msg}): {value!r}") from None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{field}: expected a JSON object, got {value!r}")
    return dict(value)


def parse_model(raw: Mapping[str, Any], where: str = "config") -> ModelConfig:
    """Validate one model entry (config file keys, also used for the CLI's single model)."""
    unknown = sorted(set(raw) - set(MODEL_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; accepted keys are {list(MODEL_KEYS)}")
    for key in ("name", "base_path"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ConfigError(f"{where}.{key}: required, expected a non-empty string, got {raw.get(key)!r}")
    policy = raw.get("model_version_policy")
    if isinstance(policy, str):
        policy = _parse_json_object(f"{where}.model_version_policy", policy)
    nireq = raw.get("nireq")
    target_device = raw.get("target_device") or "CPU"
    if not isinstance(target_device, str):
        raise ConfigError(f"{where}.target_device: expected a device name like CPU, got {target_device!r}")
    return ModelConfig(
        name=raw["name"],
        base_path=raw["base_path"],
        batch_size=parse_batch_size(raw.get("batch_size"), f"{where}.batch_size"),
        shape=parse_shape(raw.get("shape"), f"{where}.shape"),
        version_policy=parse_policy(policy, f"{where}.model_version_policy"),
        nireq=None if nireq in (None, 0, "0", "") else _int_at_least(f"{where}.nireq", nireq, 1),
        target_device=target_device,
        plugin_config=_parse_json_object(f"{where}.plugin_config", raw.get("plugin_config")),
        static_batch_one=_parse_bool(f"{where}.static_batch_one", raw.get("static_batch_one"), True),
        version_labels=parse_version_labels(raw.get("version_labels"), f"{where}.version_labels"),
        batching=parse_batching(raw.get("batching"), f"{where}.batching"),
        color_format=_parse_choice(f"{where}.color_format", raw.get("color_format"), ("RGB", "BGR")) or "RGB",
        layout=_parse_choice(f"{where}.layout", raw.get("layout"), ("NHWC", "NCHW")),
        mean=parse_channel_values(raw.get("mean"), f"{where}.mean"),
        scale=parse_channel_values(raw.get("scale"), f"{where}.scale", nonzero=True),
    )


def _parse_choice(field: str, value: object, choices: tuple[str, ...]) -> str | None:
    """One of `choices` (any letter case); none gives None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.upper() not in choices:
        raise ConfigError(f"{field}: expected one of {', '.join(choices)}, got {value!r}")
    return value.upper()


def parse_channel_values(value: object, field: str, nonzero: bool = False) -> tuple[float, ...] | None:
    """A number or a list of numbers (one per channel), also as the text of a flag: "127.5",
    "[123.68, 116.78, 103.94]"; none gives None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ConfigError(f"{field}: expected a number or a JSON list of numbers, got {value!r}") from None
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"{field}: expected a number or a list of numbers (one per channel), got {value!r}")
    if nonzero and any(v == 0 for v in values):
        raise ConfigError(f"{field}: pixels are divided by it, so it must not be 0, got {value!r}")
    return tuple(float(v) for v in values)


def parse_version_labels(value: object, field: str = "version_labels") -> dict[str, int]:
    """{label: version}: labels are non-empty names without '/' or ':' (they appear in REST
    paths), versions positive integers; none gives no labels."""
    if value is None or value == "":
        return {}
    value = _parse_json_object(field, value)
    labels = {}
    for label, version in value.items():
        if not isinstance(label, str) or not re.fullmatch(r"[^/:\s]+", label):
            raise ConfigError(f"{field}: a label must be a non-empty name without '/', ':' or spaces, got {label!r}")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ConfigError(f"{field}.{label}: expected a positive version number, got {version!r}")
        labels[label] = version
    return labels


def flag_bool(text: str) -> bool:
    """A boolean flag's value as TF Serving's flags take it: true/false (also 1/0); a bare flag
    is true (argparse: nargs="?", const=True)."""
    lowered = text.strip().lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ValueError(f"expected true or false, got {text!r}")
    return lowered in ("true", "1")


def _parse_bool(field: str, value: object, default: bool) -> bool:
    """true/false (JSON booleans, or the words from a command line); None gives the default."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(f"{field}: expected true or false, got {value!r}")


def load_config_file(path: str) -> tuple[ModelConfig, ...]:
    """Read {"model_config_list": [{"config": {...}}, ...]} and validate every entry."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise ConfigError(f"--config_path: cannot read {path!r}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--config_path: {path!r} is not valid JSON: {exc}") from None
    if not isinstance(document, Mapping) or set(document) != {"model_config_list"}:
        raise ConfigError(f'{path}: expected an object with the single key "model_config_list"')
    entries = document["model_config_list"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: model_config_list must be a non-empty list")
    models = []
    for index, entry in enumerate(entries):
        where = f"model_config_list[{index}].config"
        if not isinstance(entry, Mapping) or set(entry) != {"config"} or not isinstance(entry["config"], Mapping):
            raise ConfigError(f'{path}: model_config_list[{index}] must be {{"config": {{...}}}}')
        models.append(parse_model(entry["config"], where))
    check_unique_names(models, path)
    return tuple(models)


def check_unique_names(models: Sequence[ModelConfig], source: str) -> None:
    """ConfigError naming the model names given more than once in `source`."""
    names = [m.name for m in models]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{source}: model names must be unique, repeated: {duplicates}")


def build_server_config(
    models: Sequence[ModelConfig], source: str, flag_names: Mapping[str, str] | None = None, **settings: Any
) -> ServerConfig:
    """The one builder of a ServerConfig, for `ie_serving model|config`, TF Serving's flags and
    `serve` alike: models (parsed by parse_model) with unique names, then every server setting
    checked. `source` names where the models came from; `flag_names` maps a ServerConfig field
    to the flag or variable that set it, for the error messages (default --FIELD)."""
    names = {**{f.name: f"--{f.name}" for f in dataclasses.fields(ServerConfig)}, **(flag_names or {})}
    check_unique_names(models, source)
    config = ServerConfig(models=tuple(models), **settings)
    check_ports(config.port, config.rest_port, (names["port"], names["rest_port"]))
    for field in ("grpc_workers", "rest_workers", "grpc_max_message_mb", "rest_max_body_mb"):
        if getattr(config, field) is not None and getattr(config, field) < 1:
            raise ConfigError(f"{names[field]}: expected an integer >= 1, got {getattr(config, field)}")
    if config.shutdown_grace_seconds < 0:
        raise ConfigError(
            f"{names['shutdown_grace_seconds']}: expected a number >= 0, got {config.shutdown_grace_seconds}"
        )
    if config.model_config_file_poll_wait_seconds < 0:
        raise ConfigError(
            f"{names['model_config_file_poll_wait_seconds']}: expected seconds >= 0, "
            f"got {config.model_config_file_poll_wait_seconds}"
        )
    if config.warmup_iterations < 0:
        raise ConfigError(f"{names['warmup_iterations']}: expected an integer >= 0, got {config.warmup_iterations}")
    if config.rest_timeout_ms is not None and config.rest_timeout_ms < 1:
        raise ConfigError(f"{names['rest_timeout_ms']}: expected milliseconds >= 1, got {config.rest_timeout_ms}")
    if config.max_queued_requests < 0:
        raise ConfigError(f"{names['max_queued_requests']}: expected an integer >= 0, got {config.max_queued_requests}")
    if config.model_repository_path is not None and not config.model_repository_path.is_dir():
        raise ConfigError(
            f"{names['model_repository_path']}: expected a local directory holding model directories "
            f"(NAME/VERSION/...), got {str(config.model_repository_path)!r}"
        )
    return config


def check_ports(port: int, rest_port: int, flags: tuple[str, str] = ("--port", "--rest_port")) -> None:
    """gRPC port 1-65535, REST port 0 (none) or 1-65535 and not the gRPC one."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"{flags[0]}: expected a port number 1-65535, got {port}")
    if not 0 <= rest_port <= 65535:
        raise ConfigError(f"{flags[1]}: expected a port number 1-65535 or 0, got {rest_port}")
    if rest_port == port:
        raise ConfigError(f"{flags[1]}: expected a port other than the gRPC {flags[0]} {port}, got the same")


def poll_wait_seconds(flag_value: float | None, environ: Mapping[str, str] = os.environ) -> float:
    """The flag when given, else the seed-era FILE_SYSTEM_POLL_WAIT_SECONDS, else 1."""
    if flag_value is not None:
        value: object = flag_value
    else:
        value = environ.get("FILE_SYSTEM_POLL_WAIT_SECONDS", "1")
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise ConfigError(f"file_system_poll_wait_seconds: expected a number >= 0 (0 = off), got {value!r}")
    return seconds
