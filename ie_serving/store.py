"""ModelStore: models -> versions -> a state machine per version, and the leases that
requests take on AVAILABLE versions.

Readers look versions up without a global lock: writers (the reconciler, the multi-model
endpoint through it) replace a model's version map, and the store's model map, as a whole.
A version leaves service by refusing new leases and releasing its compiled model only after
every in-flight request has finished.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

from ie_serving.config import ModelConfig
from ie_serving.engine import CompiledVersion
from ie_serving.errors import Code, InvalidInput, ModelLoadError, ServableNotFound, StorageError
from ie_serving.inference_stats import VersionStatistics
from ie_serving.storage.listing import Storage, VersionListing
from ie_serving.versions import State

log = logging.getLogger(__name__)

_TRANSITIONS = {
    State.START: {State.LOADING},
    State.LOADING: {State.AVAILABLE, State.END},
    State.AVAILABLE: {State.UNLOADING},
    State.UNLOADING: {State.END},
    State.END: set(),
}


class ServedVersion:
    """One load attempt of one version: its state, error, compiled model and in-flight count."""

    def __init__(self, model_name: str, listing: VersionListing):
        self.model_name = model_name
        self.version = listing.version
        self.fingerprint = listing.files
        self.state = State.START
        self.error: tuple[Code, str] | None = None
        self.failed_for_good = False  # the files themselves are bad: wait until they change
        self.compiled: CompiledVersion | None = None
        self.load_seconds: float | None = None  # how long the load attempt took (metrics)
        self.statistics = VersionStatistics()  # the statistics extension's counters
        self._inflight = 0
        self._cond = threading.Condition()

    def _transition(self, expected: State, new: State) -> None:
        if self.state != expected or new not in _TRANSITIONS[expected]:
            raise RuntimeError(
                f"model {self.model_name} version {self.version}: cannot go {expected.name} -> {new.name}, "
                f"it is {self.state.name}"
            )
        self.state = new
        log.debug("model %s version %d: %s", self.model_name, self.version, new.name)

    def load(self, loader: Callable[[], CompiledVersion]) -> bool:
        """START -> LOADING -> AVAILABLE, or END with the error kept for status."""
        with self._cond:
            self._transition(State.START, State.LOADING)
        try:
            compiled = self._timed(loader)
        except (ModelLoadError, StorageError) as exc:
            with self._cond:
                self.error = (exc.code, str(exc))
                self.failed_for_good = isinstance(exc, ModelLoadError)
                self._transition(State.LOADING, State.END)
            return False
        except Exception as exc:  # an unexpected failure must not stop the other versions
            log.exception("model %s version %d: unexpected load failure", self.model_name, self.version)
            with self._cond:
                self.error = (Code.UNKNOWN, f"{type(exc).__name__}: {exc}")
                self.failed_for_good = True
                self._transition(State.LOADING, State.END)
            return False
        with self._cond:
            self.compiled = compiled
            self._transition(State.LOADING, State.AVAILABLE)
        return True

    def _timed(self, loader: Callable[[], CompiledVersion]) -> CompiledVersion:
        started = time.perf_counter()
        try:
            return loader()
        finally:
            self.load_seconds = time.perf_counter() - started

    def try_acquire(self) -> bool:
        """Take a lease for one request; False unless AVAILABLE."""
        with self._cond:
            if self.state != State.AVAILABLE:
                return False
            self._inflight += 1
            return True

    def release(self) -> None:
        with self._cond:
            self._inflight -= 1
            if self._inflight == 0:
                self._cond.notify_all()

    @property
    def in_flight(self) -> int:
        """Requests holding a lease on this version now (metrics read it)."""
        return self._inflight

    def begin_unload(self) -> None:
        """AVAILABLE -> UNLOADING: refuse new leases from now on."""
        with self._cond:
            self._transition(State.AVAILABLE, State.UNLOADING)

    def finish_unload(self) -> None:
        """Wait for in-flight requests (batches queued for them included), release the compiled
        model (its queued batches run at once), UNLOADING -> END."""
        with self._cond:
            self._cond.wait_for(lambda: self._inflight == 0)
            if self.compiled is not None:
                self.compiled.close()
            self.compiled = None
            self._transition(State.UNLOADING, State.END)


class ServedModel:
    """A configured model, its storage and its version map (replaced whole by its writers).

    `lock` serialises the writers of one model: the poller's reconciliation and removal."""

    def __init__(self, config: ModelConfig, storage: Storage):
        self.config = config
        self.storage = storage
        self.versions: dict[int, ServedVersion] = {}
        self.lock = threading.Lock()
        self.removed = False
        self._last_notes: list[str] = []

    def log_notes_once(self, notes: list[str]) -> None:
        if notes != self._last_notes:
            for note in notes:
                log.info("model %s: %s", self.config.name, note)
            self._last_notes = notes


class ModelStore:
    """All served models; hands out leases on AVAILABLE versions to the front ends."""

    def __init__(self, models: tuple[ServedModel, ...] = ()):
        self._models_lock = threading.Lock()  # writers of the model map; readers take a snapshot
        self.models = {model.config.name: model for model in models}

    def insert(self, model: ServedModel, first_load: Callable[[ServedModel], None]) -> None:
        """Serve one more model, after `first_load(model)` ran under its lock.

        Raises ValueError when the name is taken (before first_load runs)."""
        with self._models_lock:
            if model.config.name in self.models:
                raise ValueError(f"model {model.config.name} is already served")
            with model.lock:
                first_load(model)
            self.models = {**self.models, model.config.name: model}

    def pop(self, name: str) -> ServedModel:
        """Stop listing a model (no new leases find it) and return it; KeyError when not served."""
        with self._models_lock:
            model = self.models[name]
            self.models = {key: value for key, value in self.models.items() if key != name}
        return model

    @contextlib.contextmanager
    def lease(self, name: str, version: int | None = None) -> Iterator[ServedVersion]:
        """The requested version (None: the highest AVAILABLE), held for one request."""
        served = self._acquire(name, version)
        try:
            yield served
        finally:
            served.release()

    def _versions(self, name: str, version: int | None) -> dict[int, ServedVersion]:
        """The model's version map, or ServableNotFound in TF Serving's words (also for an
        unknown version)."""
        model = self.models.get(name)
        request = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        if model is None or (version is not None and version not in model.versions):
            raise ServableNotFound(f"Servable not found for request: {request}")
        return model.versions

    def _acquire(self, name: str, version: int | None) -> ServedVersion:
        """A lease on the version asked for, or the highest AVAILABLE one. A version that exists
        but is not AVAILABLE (loading, failed, unloading) is NOT_FOUND with TF Serving's exact
        words, as its serving map holds ready versions only (core/basic_manager.cc); the state
        and load error are in GetModelStatus and the log."""
        versions = self._versions(name, version)
        if version is not None:
            served = versions[version]
            if not served.try_acquire():
                raise ServableNotFound(f"Servable not found for request: Specific({name}, {version})")
            return served
        for served in sorted(versions.values(), key=lambda s: s.version, reverse=True):
            if served.try_acquire():
                return served
        raise ServableNotFound(f"Servable not found for request: Latest({name})")

    def version_for_label(self, name: str, label: str) -> int:
        """The version a model's label names; InvalidInput in TF Serving's words for a label (or
        model) without one (model_servers/server_core.cc GetModelVersionForLabel)."""
        model = self.models.get(name)
        version = model.config.version_labels.get(label) if model is not None else None
        if version is None:
            raise InvalidInput(f"Unrecognized servable version label: {label}")
        return version

    def label_errors(self) -> list[str]:
        """Labels that name a version which is not AVAILABLE, in TF Serving's words
        (server_core.cc UpdateModelVersionLabelMap); empty when every label may be served."""
        errors = []
        for name, model in self.models.items():
            for label, version in model.config.version_labels.items():
                served = model.versions.get(version)
                if served is None or served.state != State.AVAILABLE:
                    errors.append(
                        f"Request to assign label to version {version} of model {name}, which is not currently "
                        f"available for inference (label {label})"
                    )
        return errors

    def status(self, name: str, version: int | None = None) -> list[ServedVersion]:
        """Every known version of a model (or the one asked for), for GetModelStatus."""
        versions = self._versions(name, version)
        return [versions[v] for v in sorted(versions) if version is None or v == version]

    def all_available(self) -> bool:
        """True when every model has at least one AVAILABLE version (readiness)."""
        return all(any(s.state == State.AVAILABLE for s in m.versions.values()) for m in self.models.values())
