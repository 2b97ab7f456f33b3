"""The writers of the ModelStore: the reconciler that keeps each model's served versions in
step with storage and its version policy (versions.plan_changes), the run-time adding and
removing of models, and the poller that runs the reconciler beside the servers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ie_serving.config import ModelConfig
from ie_serving.engine import DEFAULT_OPTIONS, CompiledVersion, EngineOptions, load_version
from ie_serving.errors import ModelLoadError, StorageError
from ie_serving.model_formats import ModelFiles, detect
from ie_serving.periodic import Periodic
from ie_serving.storage import storage_for
from ie_serving.storage.listing import Storage, VersionListing
from ie_serving.store import ModelStore, ServedModel, ServedVersion
from ie_serving.versions import State, VersionSnapshot, plan_changes

log = logging.getLogger(__name__)


class Reconciler:
    """Loads, swaps and unloads the versions of every model in one store."""

    def __init__(
        self,
        store: ModelStore,
        storage_factory: Callable[[str], Storage] = storage_for,
        options: EngineOptions = DEFAULT_OPTIONS,
    ):
        self.store = store
        self._storage_factory = storage_factory
        self._options = options

    def add_model(self, config: ModelConfig) -> ServedModel:
        """Serve one more model at run time, after its first load attempt.

        Raises ValueError when the name is taken, StorageError when its base path cannot be listed."""
        model = ServedModel(config, self._storage_factory(config.base_path))
        self.store.insert(model, self.reconcile)
        return model

    def remove_model(self, name: str) -> None:
        """Stop serving a model: no new requests from now, compiled models released after
        in-flight ones. Raises KeyError when no such model is served."""
        model = self.store.pop(name)
        with model.lock:
            model.removed = True
            for served in model.versions.values():
                if served.state == State.AVAILABLE:
                    retire(model, served)

    def reload(self, configs: tuple[ModelConfig, ...]) -> None:
        """Serve exactly `configs` from now on, as TF Serving's config reload does
        (server_core.cc ReloadConfig): models left out are removed (their in-flight requests
        finish first), new ones are added after their first load attempt, and those that stay
        keep serving under their new settings (policy, labels, base path), reconciled at once.
        Versions already loaded keep the settings they were compiled with until they are
        replaced. Raises StorageError when a new base path cannot be listed."""
        wanted = {config.name: config for config in configs}
        for name in [name for name in self.store.models if name not in wanted]:
            log.info("model %s: not in the new config, unloading", name)
            self.remove_model(name)
        for name, config in wanted.items():
            model = self.store.models.get(name)
            if model is None:
                log.info("model %s: new in the config, loading", name)
                self.add_model(config)
                continue
            with model.lock:
                if config.base_path != model.config.base_path:
                    model.storage = self._storage_factory(config.base_path)
                model.config = config
                self.reconcile(model)

    def reconcile_all(self, fatal_storage_errors: bool = False) -> None:
        """One pass over every model; storage errors stop start-up, later only log."""
        for model in self.store.models.values():
            try:
                with model.lock:
                    if not model.removed:
                        self.reconcile(model)
            except StorageError as exc:
                if fatal_storage_errors:
                    raise StorageError(f"model {model.config.name}: {exc}") from None
                log.error("model %s: %s; keeping the versions already served", model.config.name, exc)

    def unload_all(self) -> None:
        """Retire every AVAILABLE version (shutdown), waiting for in-flight requests."""
        for model in self.store.models.values():
            for served in model.versions.values():
                if served.state == State.AVAILABLE:
                    served.begin_unload()
                    served.finish_unload()

    def reconcile(self, model: ServedModel) -> None:
        """Bring one model's versions in line with storage and its version policy, one step
        of versions.plan_changes at a time (new versions load before old ones unload).

        A version that failed to load is not tried again until its files change, nor twice in
        one pass; meanwhile the policy chooses among the others."""
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
        while True:
            plan = plan_changes(_snapshots(model, candidates, tried), config.version_policy)
            for number in plan.load:
                tried.add(number)
                _load(model, candidates[number], detected[number], self._options)
            for number in plan.unload:
                retire(model, model.versions[number])
            if not plan.load:
                return


def _snapshots(model: ServedModel, candidates: dict[int, VersionListing], tried: set[int]) -> list[VersionSnapshot]:
    """The model's versions as the availability rule sees them: on storage or served, with the
    failed ones blocked when they failed this pass or their files have not changed since."""
    snapshots = []
    for number in sorted(set(candidates) | set(model.versions)):
        served = model.versions.get(number)
        if served is None:
            snapshots.append(VersionSnapshot(number, on_storage=True))
            continue
        failed = served.state == State.END and served.error is not None
        unchanged = number in candidates and served.fingerprint == candidates[number].files
        blocked = failed and (number in tried or (served.failed_for_good and unchanged))
        retriable = served.state == State.END and not blocked
        snapshots.append(VersionSnapshot(number, number in candidates, None if retriable else served.state, blocked))
    return snapshots


def _load(model: ServedModel, listing: VersionListing, files: ModelFiles, options: EngineOptions) -> None:
    config = model.config
    served = ServedVersion(config.name, listing)
    model.versions = {**model.versions, listing.version: served}
    log.info("model %s version %d: loading from %s", config.name, listing.version, config.base_path)
    started = time.monotonic()

    def loader() -> CompiledVersion:
        version_dir = model.storage.local_dir(config.base_path, listing)
        return load_version(version_dir, files, config, options)

    if served.load(loader):
        compiled = served.compiled
        assert compiled is not None
        log.info(
            "model %s version %d: AVAILABLE in %.2f s on %s, precision %s, hint %s, nireq %d, static batch-1 copy %s, "
            "inputs %s, outputs %s",
            config.name,
            listing.version,
            time.monotonic() - started,
            config.target_device,
            compiled.precision,
            compiled.hint,
            compiled.nireq,
            "no" if compiled.batch_one_hint is None else f"yes (hint {compiled.batch_one_hint})",
            {n: (s.dtype.name, s.shape) for n, s in compiled.inputs.items()},
            {n: (s.dtype.name, s.shape) for n, s in compiled.outputs.items()},
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


def retire(model: ServedModel, served: ServedVersion) -> None:
    """Stop new requests now; release the compiled model once in-flight requests finish."""
    log.info("model %s version %d: unloading", model.config.name, served.version)
    served.begin_unload()

    def finish() -> None:
        served.finish_unload()
        log.info("model %s version %d: unloaded", model.config.name, served.version)

    threading.Thread(target=finish, name=f"unload-{model.config.name}-{served.version}", daemon=True).start()


class Poller(Periodic):
    """Runs reconcile_all every `interval` seconds beside the servers, until stopped, then
    `after_pass` (health reporting) after each pass."""

    def __init__(self, reconciler: Reconciler, interval: float, after_pass: Callable[[], None] | None = None):
        def poll() -> None:
            reconciler.reconcile_all()
            if after_pass is not None:
                after_pass()

        super().__init__("model-poller", interval, poll)
