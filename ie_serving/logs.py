"""Logging set up once per process from LOG_LEVEL and LOG_PATH, idempotently."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from ie_serving.errors import ConfigError

LEVELS = ("ERROR", "INFO", "DEBUG")
# Client libraries whose DEBUG output carries request URLs, headers and credentials: they log at
# INFO at most, whatever LOG_LEVEL says, so secrets never reach the log.
QUIET_LIBRARIES = ("botocore", "boto3", "s3transfer", "urllib3", "google", "google_auth_httplib2", "requests")
_HANDLER_MARK = "_ie_serving_handler"


def setup_logging(environ: Mapping[str, str] = os.environ) -> None:
    """LOG_LEVEL = ERROR | INFO (default) | DEBUG; LOG_PATH adds a file beside stderr."""
    level = environ.get("LOG_LEVEL", "INFO").upper()
    if level not in LEVELS:
        raise ConfigError(f"LOG_LEVEL: expected one of {', '.join(LEVELS)}, got {environ['LOG_LEVEL']!r}")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if environ.get("LOG_PATH"):
        try:
            handlers.append(logging.FileHandler(environ["LOG_PATH"]))
        except OSError as exc:
            raise ConfigError(f"LOG_PATH: cannot open {environ['LOG_PATH']!r} for writing: {exc.strerror}") from None
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    root.setLevel(level)
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel(max(logging.INFO, logging.getLevelName(level)))
