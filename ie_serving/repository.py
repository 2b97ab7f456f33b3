"""The model repository extension over the store (triton-inference-server/server
docs/protocol/extension_model_repository.md): index, load and unload, protocol-free; the v2
REST and gRPC front ends call it.

What "the repository" is here: the models this server was configured with (the command
line or the model config file, as last reloaded). Triton and KServe's Python server load a
model by the name of its directory under a repository root; this server names its models
in its configuration (each with its own base path, local or remote, and settings), so:

- index lists every configured model with each version it knows and that version's state
  in Triton's words (READY, LOADING, UNLOADING, UNAVAILABLE with the reason: the load error,
  or "unloaded"), including models unloaded through this extension;
- unload(name) stops serving a model (reconcile.Reconciler.remove_model: no new requests,
  in-flight ones finish, then the compiled model is released); it stays in the index and
  can be loaded again by name;
- load(name) serves an unloaded configured model again (Reconciler.add_model, the operation
  SageMaker's multi-model endpoint and config reload use), or, for a model being served,
  reads its base path again at once (Triton: "loaded, or reloaded if already loaded"): new
  versions load now instead of at the next poll. The load fails, naming the versions'
  errors, when no version of the model is AVAILABLE after it; an unloaded model that fails
  so is taken out again (as the multi-model endpoint does) and its index entry keeps the
  reason.

With --model_repository_path ROOT, the repository is also Triton's: every directory under ROOT
is a model (ROOT/NAME/VERSION/...), listed by its name alone until loaded, and load(NAME)
serves ROOT/NAME with the default settings (Triton's explicit model control; none is loaded
at start). Otherwise adding models that are not configured is config reload's job
(ModelService's HandleReloadConfigRequest, --model_config_file_poll_wait_seconds); a reload
serves exactly the new list, whatever was loaded or unloaded here (`reloaded` then forgets
the unloaded models; models loaded from ROOT are unloaded too, and stay loadable).
Loads and unloads are serialised by one lock. Where another front end owns loading
(SageMaker's multi-model endpoint), the extension is withdrawn and every protocol answers its
calls UNIMPLEMENTED (501).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import threading
from collections.abc import Callable, Mapping

from ie_serving.config import ModelConfig
from ie_serving.errors import InvalidInput, LoadFailed, StorageError
from ie_serving.reconcile import Reconciler
from ie_serving.store import ServedModel, ServedVersion
from ie_serving.versions import State

log = logging.getLogger(__name__)

# Triton's ModelReadyState names (core src/model_lifecycle.h ModelReadyStateString)
READY, UNAVAILABLE, LOADING, UNLOADING = "READY", "UNAVAILABLE", "LOADING", "UNLOADING"
_STATE_NAMES = {
    State.START: LOADING,
    State.LOADING: LOADING,
    State.AVAILABLE: READY,
    State.UNLOADING: UNLOADING,
    State.END: UNAVAILABLE,
}
UNLOADED = "unloaded"  # Triton's reason for a version that was unloaded


@dataclasses.dataclass(frozen=True)
class IndexEntry:
    """One row of the index: a model version (version None: a model with no version known,
    which Triton writes as its name alone)."""

    name: str
    version: int | None = None
    state: str = ""
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        """The extension's JSON entry (core tritonserver.cc TRITONSERVER_ServerModelIndex):
        name alone, or name, version, state and reason."""
        if self.version is None:
            return {"name": self.name}
        return {"name": self.name, "version": str(self.version), "state": self.state, "reason": self.reason}


def _entry(name: str, served: ServedVersion) -> IndexEntry:
    state = _STATE_NAMES[served.state]
    reason = ""
    if state == UNAVAILABLE:
        reason = served.error[1] if served.error else UNLOADED
    return IndexEntry(name, served.version, state, reason)


class ModelRepository:
    """Index, load and unload over one reconciler's store."""

    def __init__(
        self,
        reconciler: Reconciler,
        after_change: Callable[[], None] | None = None,
        root: pathlib.Path | None = None,
    ):
        """after_change: run after each load or unload (the gRPC health service's update);
        root: --model_repository_path, a directory whose subdirectories load by name."""
        self.reconciler = reconciler
        self.store = reconciler.store
        self.after_change = after_change
        self.root = root
        self._unloaded: dict[str, ServedModel] = {}  # configured models unloaded here
        self._lock = threading.Lock()
        self.withdrawn: str | None = None  # why the extension is not offered, when it is not

    def withdraw(self, reason: str) -> None:
        """Stop offering the extension on every protocol (the front ends check `withdrawn`)."""
        self.withdrawn = reason

    def reloaded(self) -> None:
        """After a config reload: the store serves exactly the new list, so the models unloaded
        here are either served again or no longer configured; forget them."""
        with self._lock:
            self._unloaded.clear()

    def index(self, ready_only: bool = False) -> list[IndexEntry]:
        """Every known model and version by name and version; only READY ones when ready_only."""
        served = self.store.models  # one snapshot of the model map
        models = {**self._unloaded, **served}
        entries = []
        for name in sorted({*models, *self._root_names()}):
            if name not in models:  # a directory under the root, not loaded: its name alone, as Triton
                if not ready_only:
                    entries.append(IndexEntry(name))
                continue
            versions = models[name].versions
            if not versions and not ready_only:
                entries.append(IndexEntry(name))
            for number in sorted(versions):
                entry = _entry(name, versions[number])
                if not ready_only or entry.state == READY:
                    entries.append(entry)
        return entries

    def load(self, name: str, parameters: Mapping[str, object] | None = None) -> None:
        """Serve a configured model again, or read a served one's base path again now.

        InvalidInput for a name that is not configured or for a load parameter (Triton's
        "config" and "file:" overrides describe Triton model configurations, which this
        server does not read) or when the model's versions failed to load (their errors named);
        LoadFailed when no version is found or the storage cannot be read."""
        for key in parameters or {}:
            raise InvalidInput(
                f"Unrecognized load parameter '{key}': this server loads a model as configured and takes none"
            )
        with self._lock:
            model = self.store.models.get(name)
            if model is not None:
                log.info("model repository: reloading %s", name)
                with model.lock:
                    if not model.removed:
                        try:
                            self.reconciler.reconcile(model)
                        except StorageError as exc:
                            raise LoadFailed(f"failed to load '{name}': {exc}") from None
                self._check_loaded(name, model, take_out=False)
            else:
                self._load_unloaded(name)
        if self.after_change is not None:
            self.after_change()

    def _load_unloaded(self, name: str) -> None:
        unloaded = self._unloaded.get(name)
        if unloaded is not None:
            config = unloaded.config
        elif name in self._root_names():
            assert self.root is not None
            config = ModelConfig(name=name, base_path=str(self.root / name))
        else:
            known = sorted({*self.store.models, *self._unloaded})
            where = f" and {self.root} holds no directory of that name" if self.root is not None else ""
            raise InvalidInput(f"failed to load '{name}': no such model; the configured models are {known}{where}")
        log.info("model repository: loading %s from %s", name, config.base_path)
        try:
            model = self.reconciler.add_model(config)
        except StorageError as exc:
            raise LoadFailed(f"failed to load '{name}': {exc}") from None
        except ValueError:  # a config reload served it meanwhile
            model = self.store.models[name]
        self._unloaded.pop(name, None)
        self._check_loaded(name, model, take_out=True)

    def _check_loaded(self, name: str, model: ServedModel, take_out: bool) -> None:
        """When none of the model's versions is AVAILABLE: InvalidInput naming the versions'
        errors (Triton answers a model whose load failed INVALID_ARG, "load failed for model
        '...'": core src/model_repository_manager/model_repository_manager.cc), LoadFailed
        (INTERNAL, as Triton's "no version is available") when there is no version at all.
        The model is taken out again (kept as unloaded, with its errors) when `take_out`; a
        model that was being served stays, its poller trying again as configured."""
        if any(s.state == State.AVAILABLE for s in model.versions.values()):
            return
        errors = "; ".join(f"version {s.version}: {s.error[1]}" for s in model.versions.values() if s.error)
        if take_out:
            self._take_out(name)
        if errors:
            raise InvalidInput(f"failed to load '{name}': {errors}")
        raise LoadFailed(f"failed to load '{name}': no version found under {model.config.base_path}")

    def unload(self, name: str, parameters: Mapping[str, object] | None = None) -> None:
        """Stop serving a model; it stays known and can be loaded again. A model already
        unloaded is left as it is. InvalidInput for a name that is not configured or a
        parameter other than Triton's unload_dependents (no model here has dependents)."""
        for key, value in (parameters or {}).items():
            if key != "unload_dependents" or not isinstance(value, bool):
                raise InvalidInput(f"Unrecognized unload parameter '{key}': expected only unload_dependents, a boolean")
        with self._lock:
            if name in self._unloaded and name not in self.store.models:
                return
            if name not in self.store.models:
                raise InvalidInput(f"failed to unload '{name}': no such model")
            self._take_out(name)
        if self.after_change is not None:
            self.after_change()

    def _root_names(self) -> set[str]:
        """The model directories under the root (hidden ones left out); none without a root or
        when it cannot be read (logged)."""
        if self.root is None:
            return set()
        try:
            with os.scandir(self.root) as entries:
                return {e.name for e in entries if not e.name.startswith(".") and e.is_dir()}
        except OSError as exc:
            log.error("model repository: cannot list %s: %s", self.root, exc)
            return set()

    def _take_out(self, name: str) -> None:
        log.info("model repository: unloading %s", name)
        try:
            model = self.store.models[name]
            self.reconciler.remove_model(name)
        except KeyError:  # a config reload removed it meanwhile
            return
        self._unloaded[name] = model
