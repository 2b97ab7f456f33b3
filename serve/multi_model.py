"""SageMaker's multi-model endpoint contract (SAGEMAKER_MULTI_MODEL=true) over the ModelStore.

  POST   /models                {"model_name", "url"}  load (409 loaded, 507 no memory)
  GET    /models                ?max_results=N&next_page_token=T  {"models": [...], "nextPageToken"}
  GET    /models/{name}         {"modelName", "modelUrl", "versions"}
  DELETE /models/{name}         unload (404 when not loaded)
  POST   /models/{name}/invoke  as /invocations, for that model

The url's directory holds numeric versions or bare IR files, read by layout.py as for
SM_MODEL_DIR; names and urls are confined to the model root by model_names.py. Every answer is
JSON; errors are {"error": message}. Loads and unloads are serialised by one lock, so the
memory estimate of the loaded models is never checked against a stale total.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import sys
import threading
from collections.abc import Callable, Mapping

import orjson
from flask import Blueprint, Response, request

from ie_serving.config import ModelConfig
from ie_serving.errors import AlreadyExists, ConfigError, InvalidInput, LoadFailed, ServableNotFound, StorageError
from ie_serving.http_common import error_response, json_response, read_body, started
from ie_serving.reconcile import Reconciler
from ie_serving.service import Call
from ie_serving.versions import State
from serve import custom_code, layout, memory
from serve.model_names import check_name, resolve_url

log = logging.getLogger(__name__)

MAX_PAGE = 1000


@dataclasses.dataclass(frozen=True)
class Loaded:
    """A model loaded through POST /models: the url as sent, its estimated memory, and its own
    custom code (the url's code/inference.py) when it has some."""

    url: str
    need_bytes: int
    code: custom_code.CustomCode | None = None


def _page_size(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
        raise InvalidInput(f"max_results: expected an integer 1-{MAX_PAGE}, got {text!r}")
    return int(text)


class MultiModel:
    """The /models routes over one store; `invoke(name)` answers as /invocations for a model."""

    def __init__(
        self,
        reconciler: Reconciler,
        root: pathlib.Path,
        max_memory_mb: int | None,
        nireq: int | None,
        invoke: Callable[[str, Callable[[str], custom_code.CustomCode | None]], Response],
        plugin_config: Mapping[str, object] | None = None,
    ):
        self.reconciler = reconciler
        self.store = reconciler.store
        self.root = root
        self.max_memory_mb = max_memory_mb
        self.nireq = nireq
        self.invoke_model = invoke
        self.plugin_config = dict(plugin_config or {})
        self.staging = layout.staging_dir("ie_serving_mme_")
        self._loaded: dict[str, Loaded] = {}
        self._lock = threading.Lock()

    def load(self) -> Response:
        try:
            document = orjson.loads(read_body())
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f'body is not JSON ({exc}); expected {{"model_name": ..., "url": ...}}') from None
        if not isinstance(document, dict) or not {"model_name", "url"} <= set(document):
            raise InvalidInput('body: expected {"model_name": NAME, "url": DIRECTORY}')
        name = check_name(document["model_name"])
        path = resolve_url(self.root, document["url"])
        with self._lock:
            if name in self._loaded or name in self.store.models:
                raise AlreadyExists(f"model {name} is already loaded; unload it first (DELETE /models/{name})")
            first = layout.served_dir(path)
            if first is None:
                raise InvalidInput(
                    f"url {document['url']!r} holds no model: expected numeric version directories "
                    "holding model.xml + model.bin, or bare .xml + .bin files",
                )
            need = memory.need_bytes(first)
            loaded = sum(item.need_bytes for item in self._loaded.values())
            memory.check(name, need, loaded, self.max_memory_mb, memory.available_bytes())
            code = _model_code(name, path)
            self._add(name, path, need)
            self._loaded[name] = Loaded(document["url"], need, code)
        log.info("multi-model: loaded %s from %s (about %.1f MB)", name, path, need / 1024 / 1024)
        return json_response({"modelName": name, "modelUrl": document["url"], "status": "loaded"})

    def _add(self, name: str, path: pathlib.Path, need: int) -> None:
        """Into the store, after its first load attempt; out again (500) when nothing loaded."""
        base_path = layout.base_path(path, name, self.staging)
        assert base_path is not None  # served_dir found a model there
        try:
            model = self.reconciler.add_model(
                ModelConfig(name=name, base_path=base_path, nireq=self.nireq, plugin_config=self.plugin_config)
            )
        except StorageError as exc:
            raise InvalidInput(f"model {name}: {exc}") from None
        if not any(s.state == State.AVAILABLE for s in model.versions.values()):
            errors = "; ".join(f"version {s.version}: {s.error[1]}" for s in model.versions.values() if s.error)
            self.reconciler.remove_model(name)
            raise LoadFailed(f"model {name} could not be loaded: {errors or 'no loadable version'}")

    def list(self) -> Response:
        size = _page_size(request.args.get("max_results"))
        token = request.args.get("next_page_token") or ""
        if token:
            check_name(token)
        names = [n for n in sorted(self._loaded) if n > token]
        page = names if size is None else names[:size]
        answer: dict[str, object] = {"models": [{"modelName": n, "modelUrl": self._loaded[n].url} for n in page]}
        if len(page) < len(names):
            answer["nextPageToken"] = page[-1]
        return json_response(answer)

    def _known(self, name: str) -> Loaded:
        loaded = self._loaded.get(check_name(name))
        if loaded is None:
            raise ServableNotFound(f"model {name} is not loaded")
        return loaded

    def describe(self, name: str) -> Response:
        loaded = self._known(name)
        try:
            versions = [{"version": s.version, "state": s.state.name} for s in self.store.status(name)]
        except ServableNotFound:  # unloaded since _known looked
            raise ServableNotFound(f"model {name} is not loaded") from None
        return json_response({"modelName": name, "modelUrl": loaded.url, "versions": versions})

    def unload(self, name: str) -> Response:
        with self._lock:
            self._known(name)
            self.reconciler.remove_model(name)
            del self._loaded[name]
        log.info("multi-model: unloaded %s", name)
        return json_response({"modelName": name, "status": "unloaded"})

    def invoke(self, name: str) -> Response:
        return self.invoke_model(name, self._model_code)

    def _model_code(self, name: str) -> custom_code.CustomCode | None:
        """The model's own custom code, None when it has none; ServableNotFound when not loaded."""
        return self._known(name).code

    def _answered(self, method: str, view: Callable[..., Response]) -> Callable[..., Response]:
        """The view run inside a service Call (logged), its failures answered through the errors table."""

        def run(**kwargs: str) -> Response:
            try:
                with Call("sagemaker", method, kwargs.get("name", ""), started=started()):
                    return view(**kwargs)
            except Exception as exc:  # every failure is answered; a bug fails this request only
                return error_response(exc)

        run.__name__ = view.__name__
        return run

    def blueprint(self) -> Blueprint:
        routes = Blueprint("multi_model", __name__)
        routes.add_url_rule("/models", "load", self._answered("LoadModel", self.load), methods=["POST"])
        routes.add_url_rule("/models", "list", self._answered("ListModels", self.list), methods=["GET"])
        routes.add_url_rule(
            "/models/<path:name>", "describe", self._answered("DescribeModel", self.describe), methods=["GET"]
        )
        routes.add_url_rule(
            "/models/<path:name>", "unload", self._answered("UnloadModel", self.unload), methods=["DELETE"]
        )
        routes.add_url_rule("/models/<path:name>/invoke", "invoke", self.invoke, methods=["POST"])
        return routes


def _model_code(name: str, path: pathlib.Path) -> custom_code.CustomCode | None:
    """The model's own code/inference.py (with its code/lib), as AWS's container imports a
    model-specific script (python_service.py _import_custom_modules); InvalidInput when the
    script cannot be used."""
    code_dir = path / layout.CODE_DIR
    if (code_dir / "lib").is_dir():
        sys.path.append(str(code_dir / "lib"))
    try:
        return custom_code.load(code_dir)
    except ConfigError as exc:
        raise InvalidInput(f"model {name}: {exc}") from None
