"""ModelStore: models -> versions -> a state machine per version, and the reconciler that
keeps the served versions in step with storage.

Readers look versions up without a global lock: the reconciler is the only writer and
replaces a model's version map as a whole. A version leaves service by refusing new
leases and releasing its engine only after every in-flight request has finished.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
from collections.abc import Callable, Iterator

from ie_serving.config import ModelConfig
from ie_serving.engine import DEFAULT_OPTIONS, CompiledVersion, EngineOptions, load_version
from ie_serving.errors import Code, ModelLoadError, ServableNotFound, ServableUnavailable, StorageError
from ie_serving.model_formats import ModelFiles, detect
from ie_serving.storage import Storage, VersionListing, storage_for
from ie_serving.versions import plan_changes

log = logging.getLogger(__name__)


class State(enum.IntEnum):
    """TF Serving's ModelVersionStatus.State values."""

    START = 10
    LOADING = 20
    AVAILABLE = 30
    UNLOADING = 40
    END = 50


_TRANSITIONS = {
    State.START: {State.LOADING},
    State.LOADING: {State.AVAILABLE, State.END},
    State.AVAILABLE: {State.UNLOADING},
    State.UNLOADING: {State.END},
    State.END: set(),
}


class ServedVersion:
    """One load attempt of one version: its state, error, engine and in-flight count."""

    def __init__(self, model_name: str, listing: VersionListing):
        self.model_name = model_name
        self.version = listing.version
        self.fingerprint = listing.files
        self.state = State.START
        self.error: tuple[Code, str] | None = None
        self.failed_for_good = False  # the files themselves are bad: wait until they change
        self.engine: CompiledVersion | None = None
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
            engine = loader()
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
            self.engine = engine
            self._transition(State.LOADING, State.AVAILABLE)
        return True

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

    def begin_unload(self) -> None:
        """AVAILABLE -> UNLOADING: refuse new leases from now on."""
        with self._cond:
            self._transition(State.AVAILABLE, State.UNLOADING)

    def finish_unload(self) -> None:
        """Wait for in-flight requests, release the engine, UNLOADING -> END."""
        with self._cond:
            self._cond.wait_for(lambda: self._inflight == 0)
            self.engine = None
            self._transition(State.UNLOADING, State.END)


class Model:
    """A configured model and its version map (replaced whole by the reconciler).

    `lock` serialises the writers of one model: the poller's reconciliation and removal."""

    def __init__(self, config: ModelConfig, storage: Storage, options: EngineOptions = DEFAULT_OPTIONS):
        self.config = config
        self.storage = storage
        self.options = options
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

    def __init__(
        self,
        configs: tuple[ModelConfig, ...],
        storage_factory: Callable[[str], Storage] = storage_for,
        options: EngineOptions = DEFAULT_OPTIONS,
    ):
        self._storage_factory = storage_factory
        self._options = options
        self._models_lock = threading.Lock()  # writers of the model map; readers take a snapshot
        self.models = {c.name: Model(c, storage_factory(c.base_path), options) for c in configs}

    def add_model(self, config: ModelConfig) -> Model:
        """Serve one more model at run time, after its first load attempt.

        Raises ValueError when the name is taken, StorageError when its base path cannot be listed."""
        with self._models_lock:
            if config.name in self.models:
                raise ValueError(f"model {config.name} is already served")
            model = Model(config, self._storage_factory(config.base_path), self._options)
            with model.lock:
                reconcile(model)
            self.models = {**self.models, config.name: model}
        return model

    def remove_model(self, name: str) -> None:
        """Stop serving a model: no new requests from now, engines released after in-flight ones.

        Raises KeyError when no such model is served."""
        with self._models_lock:
            model = self.models[name]
            self.models = {key: value for key, value in self.models.items() if key != name}
        with model.lock:
            model.removed = True
            for served in model.versions.values():
                if served.state == State.AVAILABLE:
                    _retire(model, served)

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
        versions = self._versions(name, version)
        if version is not None:
            served = versions[version]
            if not served.try_acquire():
                raise ServableUnavailable(_not_available(served))
            return served
        for served in sorted(versions.values(), key=lambda s: s.version, reverse=True):
            if served.try_acquire():
                return served
        if not versions:
            raise ServableNotFound(f"Servable not found for request: Latest({name}): no version of {name} was found")
        states = ", ".join(
            f"version {s.version} is {s.state.name}" for s in sorted(versions.values(), key=lambda s: s.version)
        )
        raise ServableUnavailable(f"Model {name} has no AVAILABLE version: {states}")

    def status(self, name: str, version: int | None = None) -> list[ServedVersion]:
        """Every known version of a model (or the one asked for), for GetModelStatus."""
        versions = self._versions(name, version)
        return [versions[v] for v in sorted(versions) if version is None or v == version]

    def all_available(self) -> bool:
        """True when every model has at least one AVAILABLE version (readiness)."""
        return all(any(s.state == State.AVAILABLE for s in m.versions.values()) for m in self.models.values())

    def reconcile_all(self, fatal_storage_errors: bool = False) -> None:
        """One pass over every model; storage errors stop start-up, later only log."""
        for model in self.models.values():
            try:
                with model.lock:
                    if not model.removed:
                        reconcile(model)
            except StorageError as exc:
                if fatal_storage_errors:
                    raise StorageError(f"model {model.config.name}: {exc}") from None
                log.error("model %s: %s; keeping the versions already served", model.config.name, exc)

    def unload_all(self) -> None:
        """Retire every AVAILABLE version (shutdown), waiting for in-flight requests."""
        for model in self.models.values():
            for served in model.versions.values():
                if served.state == State.AVAILABLE:
                    served.begin_unload()
                    served.finish_unload()


def _not_available(served: ServedVersion) -> str:
    text = f"Servable {served.model_name} version {served.version} is not available: state {served.state.name}"
    if served.error:
        text += f", error: {served.error[1]}"
    return text


def reconcile(model: Model) -> None:
    """Bring one model's versions in line with storage and its version policy.

    New versions are loaded before retired ones are unloaded. A version that failed to load
    is not tried again until its files change, and meanwhile the policy chooses among the
    others (so a broken new version leaves the previous one serving)."""
    config = model.config
    listings, notes = model.storage.list_versions(config.base_path)
    candidates: dict[int, VersionListing] = {}
    detected: dict[int, ModelFiles] = {}
    for number, listing in listings.items():
        try:
            detected[number] = detect(name for name, _, _ in listing.files)
        except ModelLoadError as exc:
            notes.append(f"version directory {number} ignored: {exc}")
            continue
        candidates[number] = listing
    model.log_notes_once(notes)

    tried: set[int] = set()

    def failed() -> set[int]:
        """Versions not to load now: broken files (until they change) and this pass's failures."""
        return {
            number
            for number, served in model.versions.items()
            if number in candidates
            and served.state == State.END
            and served.error
            and (number in tried or (served.failed_for_good and served.fingerprint == candidates[number].files))
        }

    def serving() -> set[int]:
        return {n for n, s in model.versions.items() if s.state in (State.AVAILABLE, State.LOADING)}

    while True:
        plan = plan_changes(serving(), config.version_policy.select(set(candidates) - failed()))
        if not plan.load:
            break
        for number in plan.load:
            tried.add(number)
            _load(model, candidates[number], detected[number])
    for number in plan.unload:
        _retire(model, model.versions[number])


def _load(model: Model, listing: VersionListing, files: ModelFiles) -> None:
    config = model.config
    served = ServedVersion(config.name, listing)
    model.versions = {**model.versions, listing.version: served}
    log.info("model %s version %d: loading from %s", config.name, listing.version, config.base_path)
    started = time.monotonic()

    def loader() -> CompiledVersion:
        version_dir = model.storage.local_dir(config.base_path, listing)
        return load_version(version_dir, files, config, model.options)

    if served.load(loader):
        engine = served.engine
        assert engine is not None
        log.info(
            "model %s version %d: AVAILABLE in %.2f s on %s, precision %s, hint %s, nireq %d, static batch-1 copy %s, "
            "inputs %s, outputs %s",
            config.name,
            listing.version,
            time.monotonic() - started,
            config.target_device,
            engine.precision,
            engine.hint,
            engine.nireq,
            "no" if engine.batch_one_hint is None else f"yes (hint {engine.batch_one_hint})",
            {n: (s.dtype.name, s.shape) for n, s in engine.inputs.items()},
            {n: (s.dtype.name, s.shape) for n, s in engine.outputs.items()},
        )
    else:
        assert served.error is not None
        log.error(
            "model %s version %d: load failed, %s: %s",
            config.name,
            listing.version,
            "not served until its files change" if served.failed_for_good else "trying again on the next poll",
            served.error[1],
        )


def _retire(model: Model, served: ServedVersion) -> None:
    """Stop new requests now; release the engine once in-flight requests finish."""
    log.info("model %s version %d: unloading", model.config.name, served.version)
    served.begin_unload()

    def finish() -> None:
        served.finish_unload()
        log.info("model %s version %d: unloaded", model.config.name, served.version)

    threading.Thread(target=finish, name=f"unload-{model.config.name}-{served.version}", daemon=True).start()


class Poller:
    """Runs reconcile_all every `interval` seconds beside the servers, until stopped."""

    def __init__(self, store: ModelStore, interval: float):
        self._store = store
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-poller", daemon=True)

    def start(self) -> None:
        if self._interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._store.reconcile_all()
            except Exception:  # the poller must outlive any single bad pass
                log.exception("model poll failed; trying again in %s s", self._interval)
