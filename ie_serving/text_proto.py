"""Reading TF Serving's text-protobuf config files (--model_config_file,
--monitoring_config_file) with errors that name the flag, the file and the fault."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf import text_format
from google.protobuf.message import Message

from ie_serving.errors import ConfigError

ProtoMessage = TypeVar("ProtoMessage", bound=Message)


def read_text_proto(path: str, message: ProtoMessage, flag: str, expected: str) -> ProtoMessage:
    """`message` filled from the text file at `path`; ConfigError names `flag`, the file and,
    for a parse error, the line and what is `expected`."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(f"{flag}: cannot read {path!r}: {exc.strerror}") from None
    try:
        return text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raise ConfigError(f"{flag} {path}: {exc} ({expected})") from None
