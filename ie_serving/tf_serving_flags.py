"""tensorflow_model_server's own command line, for a drop-in switch:
`ie_serving --port 8500 --rest_api_port 8501 --model_name m --model_base_path /models/m`
or `--model_config_file models.config` in TF Serving's text-protobuf format.

Only the flags that mean the same thing here are taken; any other TF Serving flag is
refused by name rather than silently ignored."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from google.protobuf import text_format

from ie_serving.config import (
    ModelConfig,
    ServerConfig,
    build_server_config,
    flag_bool,
    parse_model,
    poll_wait_seconds,
)
from ie_serving.errors import ConfigError
from ie_serving.protos.tensorflow_serving.config import model_server_config_pb2

PLATFORMS = ("", "tensorflow", "openvino")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ie_serving",
        description="tensorflow_model_server-compatible flags (see also `ie_serving model` and `ie_serving config`).",
    )
    parser.add_argument("--port", type=int, default=8500, help="gRPC port (default 8500, as TF Serving)")
    parser.add_argument("--rest_api_port", type=int, default=0, help="REST port; 0 (default) means none")
    parser.add_argument("--model_name", default="default", help='model name (default "default", as TF Serving)')
    parser.add_argument("--model_base_path", help="base path of the single model's versions")
    parser.add_argument("--model_config_file", help="TF Serving text-protobuf ModelServerConfig (model_config_list)")
    parser.add_argument(
        "--file_system_poll_wait_seconds", type=float, default=None, help="seconds between polls; 0 turns polling off"
    )
    parser.add_argument(
        "--enable_serialization_as_tensor_content",
        type=flag_bool,
        nargs="?",
        const=True,
        default=False,
        help="Predict outputs in tensor_content instead of the typed value fields (TF Serving's default)",
    )
    return parser


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
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(f"--model_config_file: cannot read {path!r}: {exc.strerror}") from None
    try:
        document = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as exc:
        raise ConfigError(
            f"--model_config_file {path}: {exc} (supported per model: name, base_path, "
            "model_platform, model_version_policy)"
        ) from None
    models = []
    for index, entry in enumerate(document.model_config_list.config):
        where = f"{path}: config[{index}]"
        if entry.model_platform not in PLATFORMS:
            raise ConfigError(
                f"{where}.model_platform: {entry.model_platform!r} is not served; use one of {PLATFORMS[1:]}"
            )
        raw = {
            "name": entry.name,
            "base_path": entry.base_path,
            "model_version_policy": _policy(entry.model_version_policy),
        }
        models.append(parse_model(raw, where))
    if not models:
        raise ConfigError(f"--model_config_file {path}: model_config_list holds no config")
    return tuple(models)  # unique names are checked by build_server_config


def config_from_tf_flags(argv: Sequence[str]) -> ServerConfig:
    """A ServerConfig from tensorflow_model_server flags; ConfigError names what is wrong."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        supported = ", ".join(f"--{a.dest}" for a in build_parser()._actions if a.dest != "help")
        raise ConfigError(
            f"tensorflow_model_server flag(s) not supported by ie_serving: {' '.join(unknown)}; supported: {supported}"
            " (flags such as --model_path and --rest_port belong to the `ie_serving model` and "
            "`ie_serving config` commands: see ie_serving --help)"
        )
    if bool(args.model_config_file) == bool(args.model_base_path):
        raise ConfigError("give either --model_config_file or --model_base_path (with --model_name)")
    if args.model_config_file:
        models = parse_text_config(args.model_config_file)
    else:
        models = (ModelConfig(name=args.model_name, base_path=args.model_base_path),)
    return build_server_config(
        models,
        args.model_config_file or "--model_base_path",
        {"rest_port": "--rest_api_port"},
        port=args.port,
        rest_port=args.rest_api_port,
        poll_wait_seconds=poll_wait_seconds(args.file_system_poll_wait_seconds),
        enable_serialization_as_tensor_content=args.enable_serialization_as_tensor_content,
    )
