"""`ie_serving model ...` and `ie_serving config ...`: parse flags into a ServerConfig."""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys
from collections.abc import Sequence

from ie_serving import tf_serving_flags
from ie_serving.batching_config import server_batching
from ie_serving.config import (
    ServerConfig,
    build_server_config,
    flag_bool,
    load_config_file,
    parse_model,
    parse_tls,
    poll_wait_seconds,
)
from ie_serving.errors import ConfigError
from ie_serving.logs import setup_logging
from ie_serving.monitoring import prometheus_path
from ie_serving.tf_serving_flags import config_from_tf_flags

log = logging.getLogger(__name__)


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    defaults = ServerConfig  # one source for the defaults: the config's own field values
    parser.add_argument("--port", type=int, default=defaults.port, help="gRPC port (default %(default)s)")
    parser.add_argument(
        "--rest_port", type=int, default=defaults.rest_port, help="REST port; 0 (default) means no REST listener"
    )
    parser.add_argument(
        "--grpc_workers", type=int, default=defaults.grpc_workers, help="gRPC request threads (default %(default)s)"
    )
    parser.add_argument(
        "--rest_workers", type=int, default=defaults.rest_workers, help="REST request threads (default %(default)s)"
    )
    parser.add_argument(
        "--rest_max_body_mb",
        type=int,
        default=defaults.rest_max_body_mb,
        help="largest REST request body in MB (default %(default)s)",
    )
    parser.add_argument(
        "--grpc_max_message_mb",
        type=int,
        default=defaults.grpc_max_message_mb,
        help="largest gRPC request or response in MB (default %(default)s)",
    )
    parser.add_argument(
        "--max_queued_requests",
        type=int,
        default=defaults.max_queued_requests,
        help="requests per model version that may wait for a free infer request (with batching: in the batching "
        "queue, 0 leaving max_enqueued_batches as the only bound); more are refused with "
        "RESOURCE_EXHAUSTED / HTTP 429 (default %(default)s)",
    )
    parser.add_argument(
        "--tls_cert_file",
        type=pathlib.Path,
        help="PEM certificate chain: gRPC serves TLS and REST serves HTTPS (with --tls_key_file)",
    )
    parser.add_argument("--tls_key_file", type=pathlib.Path, help="PEM private key of --tls_cert_file")
    parser.add_argument(
        "--shutdown_grace_seconds",
        type=float,
        default=defaults.shutdown_grace_seconds,
        help="after SIGTERM, how long in-flight requests may take to finish (default %(default)s)",
    )
    parser.add_argument(
        "--compile_cache_dir",
        type=pathlib.Path,
        help="OpenVINO's compiled-model cache (CACHE_DIR) for every model: a restart loads compiled blobs "
        "instead of compiling again (default: none; plugin_config CACHE_DIR sets it per model)",
    )
    parser.add_argument(
        "--model_cache_dir",
        type=pathlib.Path,
        help="where versions from s3:// and gs:// base paths are downloaded (default: ie_serving_model_cache "
        "under the system temp dir); unchanged versions are reused after a restart",
    )
    parser.add_argument(
        "--model_repository_path",
        type=pathlib.Path,
        help="a local directory whose subdirectories are models (NAME/VERSION/files, Triton's layout): the KServe v2 "
        "model repository extension lists them and loads one by name (POST /v2/repository/models/NAME/load); "
        "default: none, only the configured models",
    )
    parser.add_argument(
        "--file_system_poll_wait_seconds",
        type=float,
        default=None,
        help="seconds between model repository polls; 0 turns polling off "
        "(default 1, or the FILE_SYSTEM_POLL_WAIT_SECONDS environment variable)",
    )
    parser.add_argument(
        "--monitoring_config_file",
        help="TF Serving's text MonitoringConfig, e.g. "
        'prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }: the REST port '
        "serves Prometheus metrics at that path (docs/monitoring.md)",
    )
    parser.add_argument(
        "--enable_batching",
        type=flag_bool,
        nargs="?",
        const=True,
        default=False,
        help="server-side batching for every model (TF Serving's flag): concurrent requests are merged along the "
        "batch dimension (docs/performance_tuning.md says when it pays); a model's own `batching` wins",
    )
    parser.add_argument(
        "--batching_parameters_file",
        help="TF Serving's text BatchingParameters (max_batch_size { value: 8 } batch_timeout_micros { value: 1000 } "
        "...) for --enable_batching (default: TF Serving's defaults)",
    )
    parser.add_argument(
        "--enable_per_model_batching_parameters",
        type=flag_bool,
        nargs="?",
        const=True,
        default=False,
        help="with --enable_batching, a version directory's batching_params.pbtxt sets its batching; versions "
        "without one are not batched (TF Serving's flag)",
    )
    parser.add_argument(
        "--allow_version_labels_for_unavailable_models",
        type=flag_bool,
        nargs="?",
        const=True,
        default=defaults.allow_version_labels_for_unavailable_models,
        help="version labels may name versions that are not AVAILABLE (TF Serving's flag); by default such a "
        "label is refused at start-up and by a config reload",
    )
    parser.add_argument(
        "--enable_serialization_as_tensor_content",
        type=flag_bool,
        nargs="?",
        const=True,
        default=defaults.enable_serialization_as_tensor_content,
        help="gRPC Predict answers carry outputs in tensor_content instead of the typed value fields "
        "(float_val, int_val, ...) that TF Serving writes by default",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ie_serving",
        description="Serve OpenVINO models over the TensorFlow Serving API.",
        epilog="tensorflow_model_server's own flags work too, without a command: "
        "ie_serving --port 8500 --rest_api_port 8501 --model_name NAME --model_base_path PATH "
        "(or --model_config_file FILE); `ie_serving --port 8500 --help` lists them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{model,config}")
    model = commands.add_parser("model", help="serve one model")
    model.add_argument("--model_name", required=True, help="name clients use in model_spec.name")
    model.add_argument("--model_path", required=True, help="base path holding numeric version directories")
    model.add_argument("--batch_size", help='batch size to reshape to, or "auto" for a dynamic batch')
    model.add_argument("--shape", help='"auto", "(1,3,224,224)", or JSON {"input": "(1,3,224,224)"}')
    model.add_argument(
        "--model_version_policy",
        help='JSON: {"latest": {"num_versions": 1}} (default), {"all": {}} or {"specific": {"versions": [1, 2]}}',
    )
    model.add_argument("--nireq", type=int, help="infer requests per version (default: OpenVINO's optimal number)")
    model.add_argument("--target_device", default="CPU", help="OpenVINO device (default CPU)")
    model.add_argument("--plugin_config", help='JSON of OpenVINO properties, e.g. {"INFERENCE_PRECISION_HINT": "f32"}')
    model.add_argument(
        "--version_labels", help='JSON {"stable": 1, "canary": 2}: version labels, as TF Serving\'s version_labels'
    )
    model.add_argument(
        "--static_batch_one",
        default="true",
        help="true (default) or false: also compile a static batch-1 copy of a model whose only dynamic "
        "dimension is the batch, for batch-1 requests",
    )
    model.add_argument(
        "--batching",
        help='true, false, or JSON BatchingParameters {"max_batch_size": 8, "batch_timeout_micros": 1000}: '
        "server-side batching of this model (over --enable_batching)",
    )
    model.add_argument(
        "--color_format", default="RGB", help="RGB (default) or BGR: the channel order of decoded JPEG/PNG images"
    )
    model.add_argument("--layout", help="NHWC or NCHW: the image input's layout, when its shape does not tell")
    model.add_argument("--mean", help="a number or JSON list, one per channel: subtracted from decoded pixels")
    model.add_argument("--scale", help="a number or JSON list, one per channel: decoded pixels are divided by it")
    _add_server_flags(model)
    config = commands.add_parser("config", help="serve the models listed in a config file")
    config.add_argument("--config_path", required=True, help='JSON file {"model_config_list": [{"config": {...}}]}')
    config.add_argument(
        "--model_config_file_poll_wait_seconds",
        type=float,
        default=0.0,
        help="seconds between reads of --config_path; a changed file replaces the served models as TF Serving's "
        "flag of that name does (0, the default: never)",
    )
    _add_server_flags(config)
    return parser


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Validate the parsed flags into a ServerConfig (ConfigError names the bad flag)."""
    if args.command == "model":
        raw = {
            "name": args.model_name,
            "base_path": args.model_path,
            "batch_size": args.batch_size,
            "shape": args.shape,
            "model_version_policy": args.model_version_policy,
            "nireq": args.nireq,
            "target_device": args.target_device,
            "plugin_config": args.plugin_config,
            "static_batch_one": args.static_batch_one,
            "version_labels": args.version_labels,
            "batching": args.batching,
            "color_format": args.color_format,
            "layout": args.layout,
            "mean": args.mean,
            "scale": args.scale,
        }
        models = (parse_model(raw, where="--model"),)
    else:
        models = load_config_file(args.config_path)
    return build_server_config(
        models,
        "--model" if args.command == "model" else args.config_path,
        port=args.port,
        rest_port=args.rest_port,
        grpc_workers=args.grpc_workers,
        rest_workers=args.rest_workers,
        rest_max_body_mb=args.rest_max_body_mb,
        grpc_max_message_mb=args.grpc_max_message_mb,
        poll_wait_seconds=poll_wait_seconds(args.file_system_poll_wait_seconds),
        enable_serialization_as_tensor_content=args.enable_serialization_as_tensor_content,
        model_cache_dir=args.model_cache_dir,
        model_repository_path=args.model_repository_path,
        max_queued_requests=args.max_queued_requests,
        compile_cache_dir=args.compile_cache_dir,
        shutdown_grace_seconds=args.shutdown_grace_seconds,
        prometheus_path=prometheus_path(args.monitoring_config_file) if args.monitoring_config_file else None,
        tls=parse_tls(args.tls_cert_file, args.tls_key_file),
        batching=server_batching(args.enable_batching, args.batching_parameters_file),
        per_model_batching=args.enable_batching and args.enable_per_model_batching_parameters,
        allow_version_labels_for_unavailable_models=args.allow_version_labels_for_unavailable_models,
        **(
            {
                "model_config_file": args.config_path,
                "model_config_file_format": "json",
                "model_config_file_poll_wait_seconds": args.model_config_file_poll_wait_seconds,
            }
            if args.command == "config"
            else {}
        ),
    )


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The `model`/`config` command line; a TF Serving flag among it is named with the fix."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        tf_flags = {option for action in tf_serving_flags.build_parser()._actions for option in action.option_strings}
        mixed = sorted({item.split("=", 1)[0] for item in unknown} & tf_flags)
        hint = (
            f"; tensorflow_model_server's flag(s) {', '.join(mixed)} take no command: "
            "either drop the command and use TF Serving's flags only, or use this command's own flags "
            "(ie_serving model --help)"
            if mixed
            else ""
        )
        parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """`ie_serving`: a command (model, config), or tensorflow_model_server's flags when the first
    argument is a flag."""
    argv = sys.argv[1:] if argv is None else list(argv)
    tf_serving_style = bool(argv) and argv[0].startswith("--") and argv[0] not in ("-h", "--help")
    if tf_serving_style:
        return _serve_tf_flags(argv, "ie_serving")
    args = _parse_args(argv)
    try:
        setup_logging()
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"ie_serving: error: {exc}", file=sys.stderr)
        return 2
    return _serve(config)


def tensorflow_model_server(argv: Sequence[str] | None = None) -> int:
    """`tensorflow_model_server`: TF Serving's own command line, always (no commands)."""
    return _serve_tf_flags(sys.argv[1:] if argv is None else list(argv), "tensorflow_model_server")


def _serve_tf_flags(argv: list[str], prog: str) -> int:
    if tf_serving_flags.asks_for_version(argv, prog):
        sys.stdout.write(tf_serving_flags.version_text())
        return 0
    try:
        setup_logging()
        config = config_from_tf_flags(argv, prog)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    return _serve(config)


def _serve(config: ServerConfig) -> int:
    from ie_serving.runtime import serve_forever  # OpenVINO is imported only once flags are valid

    return serve_forever(config)


if __name__ == "__main__":
    sys.exit(main())
