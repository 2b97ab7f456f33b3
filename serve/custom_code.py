"""Custom pre/post-processing as in AWS's TF Serving container: SM_MODEL_DIR/code/inference.py
with `input_handler(data, context)` and/or `output_handler(response, context)`, or one
`handler(data, context)`; code/requirements.txt installed at start-up, or code/lib on the path.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import pathlib
import subprocess
import sys
import types
from collections.abc import Callable
from typing import Any

import orjson

from ie_serving.errors import ConfigError

log = logging.getLogger(__name__)

Handler = Callable[[Any, "Context"], Any]


@dataclasses.dataclass(frozen=True)
class Context:
    """What a handler knows about the request; the fields of AWS's container's Context.

    rest_uri is the TF Serving REST predict URL of this server for the model asked for, channel
    a gRPC channel to this server's TF Serving gRPC port: a `handler` may call either (each call
    takes one of the server's threads while the /invocations request holds another)."""

    model_name: str
    model_version: str | None
    method: str
    rest_uri: str
    grpc_port: int
    channel: Any
    custom_attributes: str | None
    request_content_type: str
    accept_header: str
    content_length: int | None


@dataclasses.dataclass(frozen=True)
class Answer:
    """The model's answer as `output_handler` receives it: the attributes of a requests.Response."""

    status_code: int
    content: bytes
    headers: dict[str, str] = dataclasses.field(default_factory=lambda: {"Content-Type": "application/json"})

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


@dataclasses.dataclass(frozen=True)
class CustomCode:
    """The handlers found in inference.py (None for each one it does not define)."""

    input_handler: Handler | None = None
    output_handler: Handler | None = None
    handler: Handler | None = None


def prepare(code_dir: pathlib.Path) -> None:
    """Before the workers start, as AWS's container does (serve.py _setup_gunicorn): put code/lib
    on sys.path when it exists (then code/requirements.txt is not installed, with a warning),
    else install code/requirements.txt with pip. ConfigError when pip fails."""
    requirements = code_dir / "requirements.txt"
    if (code_dir / "lib").is_dir():
        sys.path.insert(0, str(code_dir / "lib"))
        log.info("added %s to the import path", code_dir / "lib")
        if requirements.is_file():
            log.warning("loading modules in %s, ignoring %s (as AWS's container does)", code_dir / "lib", requirements)
    elif requirements.is_file():
        log.info("installing %s with pip", requirements)
        command = [sys.executable, "-m", "pip", "install", "--no-input", "--disable-pip-version-check"]
        done = subprocess.run([*command, "-r", str(requirements)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ConfigError(
                f"{requirements}: pip install failed (exit {done.returncode}):\n{done.stdout}{done.stderr}"
            )
        log.info("installed %s", requirements)


def load(code_dir: pathlib.Path) -> CustomCode | None:
    """Import code_dir/inference.py; None when it does not exist. ConfigError when it defines
    none of the handlers. `handler` wins over input_handler/output_handler, as in AWS's
    container (python_service.py _import_handlers), with a warning."""
    script = code_dir / "inference.py"
    if not script.is_file():
        return None
    sys.path.insert(0, str(code_dir))  # inference.py may import its sibling modules
    spec = importlib.util.spec_from_file_location("inference", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = CustomCode(*(_callable(module, name) for name in ("input_handler", "output_handler", "handler")))
    if code.handler is not None and (code.input_handler or code.output_handler):
        log.warning("%s defines handler and input_handler/output_handler: handler is used, the others are not", script)
        code = CustomCode(handler=code.handler)
    if code == CustomCode():
        raise ConfigError(f"{script}: defines none of input_handler, output_handler, handler")
    log.info("custom code %s: %s", script, ", ".join(f.name for f in dataclasses.fields(code) if getattr(code, f.name)))
    return code


def _callable(module: types.ModuleType, name: str) -> Handler | None:
    value = getattr(module, name, None)
    return value if callable(value) else None
