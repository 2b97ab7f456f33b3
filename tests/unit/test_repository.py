"""The model repository extension's core (ie_serving/repository.py) over the store operations
config reload and the multi-model endpoint use (reconcile.Reconciler.add_model /
remove_model / reconcile). Triton's contract (triton-inference-server/server
docs/protocol/extension_model_repository.md): the index lists every model with name, version,
state and reason, `ready` keeps the READY ones; load loads "or reloads if the model is
already loaded"; unload stops serving it. States and the "unloaded" reason are Triton's
(core src/model_lifecycle.h ModelReadyState, tritonserver.cc TRITONSERVER_ServerModelIndex
writes a model with no version as its name alone). Storage and compiling are stand-ins here
(unit tests compile nothing); tests/functional drive the same calls with tritonclient."""

from __future__ import annotations

import pathlib
import threading
import time

import numpy as np
import pytest

from ie_serving import reconcile
from ie_serving.config import ModelConfig
from ie_serving.errors import InvalidInput, LoadFailed, ModelLoadError, ServableNotFound
from ie_serving.repository import IndexEntry, ModelRepository
from ie_serving.storage.listing import VersionListing
from ie_serving.store import ModelStore, ServedModel
from ie_serving.versions import State
from tests.stub_versions import Scale

IR = (("model.xml", 1, "a"), ("model.bin", 1, "a"))
BROKEN = (("model.xml", 2, "b"), ("model.bin", 2, "b"))


class Compiled(Scale):
    """A Scale with what the reconciler logs of a compiled version."""

    precision, hint, nireq, batch_one_hint = "f32", "LATENCY", 1, None

    def __init__(self, factor: float):
        super().__init__(factor)
        self.inputs = self.signatures["serving_default"].inputs
        self.outputs = self.signatures["serving_default"].outputs


class FakeStorage:
    """Base path -> {version: files}, changed by the test as a directory would be."""

    def __init__(self, tree: dict[str, dict[int, tuple]]):
        self.tree = tree

    def list_versions(self, base_path):
        return {v: VersionListing(v, files) for v, files in self.tree[base_path].items()}, []

    def local_dir(self, base_path, listing):
        return f"{base_path}/{listing.version}"


@pytest.fixture
def storage(monkeypatch) -> FakeStorage:
    """Version 9 fails to load; the others multiply by their version number."""

    def load_version(version_dir, files, config, options):
        if version_dir.endswith("/9"):
            raise ModelLoadError("cannot read model.xml: bad IR")
        return Compiled(float(version_dir.rsplit("/", 1)[1]))

    monkeypatch.setattr(reconcile, "load_version", load_version)
    return FakeStorage({"/m": {1: IR}, "/n": {2: IR}, "/empty": {}})


def _repository(storage: FakeStorage, *names: str, root: pathlib.Path | None = None) -> ModelRepository:
    store = ModelStore(tuple(ServedModel(ModelConfig(n, f"/{n}"), storage) for n in names))
    reconciler = reconcile.Reconciler(store, lambda _: storage)
    reconciler.reconcile_all(fatal_storage_errors=True)
    changes = []
    repository = ModelRepository(reconciler, lambda: changes.append(sorted(store.models)), root)
    repository.changes = changes  # type: ignore[attr-defined]
    return repository


def _wait_state(model: ServedModel, version: int, state: State) -> None:
    deadline = time.monotonic() + 5
    while model.versions[version].state != state and time.monotonic() < deadline:
        time.sleep(0.01)
    assert model.versions[version].state == state


def test_index_lists_every_configured_model_version_in_tritons_words(storage):
    repository = _repository(storage, "m", "n", "empty")
    assert [e.as_dict() for e in repository.index()] == [
        {"name": "empty"},
        {"name": "m", "version": "1", "state": "READY", "reason": ""},
        {"name": "n", "version": "2", "state": "READY", "reason": ""},
    ]
    assert [e.name for e in repository.index(ready_only=True)] == ["m", "n"]


def test_unload_then_load_by_name_over_the_same_store(storage):
    repository = _repository(storage, "m", "n")
    store = repository.store
    with store.lease("m") as served:  # in flight while unloading
        repository.unload("m")
        assert served.compiled is not None and served.state == State.UNLOADING
        assert IndexEntry("m", 1, "UNLOADING") in repository.index()
    with pytest.raises(ServableNotFound):
        store.lease("m").__enter__()
    old = repository._unloaded["m"]
    _wait_state(old, 1, State.END)
    assert [e.as_dict() for e in repository.index()][0] == {
        "name": "m",
        "version": "1",
        "state": "UNAVAILABLE",
        "reason": "unloaded",
    }
    assert [e.name for e in repository.index(ready_only=True)] == ["n"]
    repository.unload("m")  # already unloaded: left as it is
    repository.load("m")
    with store.lease("m") as served:
        assert served.compiled.infer({"x": np.ones((1, 2), np.float32)}, ["y"])["y"].tolist() == [[1.0, 1.0]]
    assert repository.index()[0] == IndexEntry("m", 1, "READY")
    assert repository.changes == [["n"], ["m", "n"]]  # health updated after each change, not after the no-op


def test_load_of_a_served_model_reads_its_base_path_now(storage):
    repository = _repository(storage, "m")
    storage.tree["/m"][2] = IR  # a new version, before the next poll
    repository.load("m")
    model = repository.store.models["m"]
    assert model.versions[2].state == State.AVAILABLE
    _wait_state(model, 1, State.END)  # the policy (latest 1) retired version 1
    assert [(e.version, e.state, e.reason) for e in repository.index()] == [
        (1, "UNAVAILABLE", "unloaded"),
        (2, "READY", ""),
    ]


def test_a_model_that_fails_to_load_is_refused_with_its_errors_and_indexed_with_the_reason(storage):
    """A load whose versions fail is INVALID_ARGUMENT, as Triton answers it ("load failed for
    model '...'" with Status::Code::INVALID_ARG: triton-inference-server/core
    src/model_repository_manager/model_repository_manager.cc); no version at all stays INTERNAL
    (Triton's "no version is available"), below."""
    repository = _repository(storage, "m", "n")
    repository.unload("m")
    storage.tree["/m"] = {9: BROKEN}
    with pytest.raises(InvalidInput, match=r"^failed to load 'm': version 9: cannot read model.xml: bad IR$"):
        repository.load("m")
    assert "m" not in repository.store.models
    assert IndexEntry("m", 9, "UNAVAILABLE", "cannot read model.xml: bad IR") in repository.index()
    storage.tree["/m"] = {1: IR}  # fixed on storage: loads
    repository.load("m")
    assert repository.index()[0] == IndexEntry("m", 1, "READY")


def test_a_served_model_that_fails_to_reload_stays_configured(storage):
    repository = _repository(storage, "empty")
    with pytest.raises(LoadFailed, match=r"^failed to load 'empty': no version found under /empty$"):
        repository.load("empty")
    assert "empty" in repository.store.models  # still configured: the poller keeps looking


def test_unknown_names_and_parameters_are_refused(storage):
    repository = _repository(storage, "m")
    with pytest.raises(InvalidInput, match=r"^failed to load 'x': no such model; the configured models are \['m'\]$"):
        repository.load("x")
    with pytest.raises(InvalidInput, match=r"^failed to unload 'x': no such model$"):
        repository.unload("x")
    with pytest.raises(InvalidInput, match=r"Unrecognized load parameter 'config'"):
        repository.load("m", {"config": "{}"})
    with pytest.raises(InvalidInput, match=r"Unrecognized unload parameter 'force'"):
        repository.unload("m", {"force": True})
    repository.unload("m", {"unload_dependents": True})  # Triton's parameter: nothing depends on a model here
    assert "m" not in repository.store.models


def test_concurrent_loads_and_unloads_leave_one_consistent_store(storage):
    repository = _repository(storage, "m")
    errors = []

    def flip(action):
        for _ in range(50):
            try:
                action("m")
            except Exception as exc:  # any failure is a bug here
                errors.append(exc)

    threads = [threading.Thread(target=flip, args=(a,)) for a in (repository.load, repository.unload)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    repository.load("m")
    assert [e for e in repository.index() if e.state == "READY"] == [IndexEntry("m", 1, "READY")]


def test_a_config_reload_serves_exactly_its_list_whatever_was_unloaded(storage):
    """Config reload (reconcile.Reconciler.reload, as HandleReloadConfigRequest runs it) is the
    source of truth: a model unloaded here but still in the new list is served again, and the
    index shows it READY; a model left out of the list is no longer known."""
    repository = _repository(storage, "m", "n")
    repository.unload("m")
    repository.unload("n")
    repository.reconciler.reload((ModelConfig("m", "/m"),))
    repository.reloaded()  # the runtime calls it after each reload
    assert set(repository.store.models) == {"m"}
    assert repository.index() == [IndexEntry("m", 1, "READY")]  # n: no longer configured, not listed
    with pytest.raises(InvalidInput, match="no such model"):
        repository.load("n")
    assert [e.name for e in repository.index(ready_only=True)] == ["m"]
    repository.unload("m")  # and the extension keeps working on the reloaded list
    assert "m" not in repository.store.models


def test_a_repository_root_lists_its_directories_and_loads_one_by_name(storage, tmp_path):
    """--model_repository_path: Triton's explicit model control over ROOT/NAME directories
    (server docs/user_guide/model_management.md): listed by name alone until loaded, loaded
    by name with the default settings, unloaded and loaded again; other names still refused."""
    (tmp_path / "n").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "file.txt").write_text("not a model")
    storage.tree[str(tmp_path / "n")] = {3: IR}
    repository = _repository(storage, "m", root=tmp_path)
    assert [e.as_dict() for e in repository.index()] == [
        {"name": "m", "version": "1", "state": "READY", "reason": ""},
        {"name": "n"},
    ]
    assert [e.name for e in repository.index(ready_only=True)] == ["m"]
    repository.load("n")
    assert repository.store.models["n"].config.base_path == str(tmp_path / "n")
    assert IndexEntry("n", 3, "READY") in repository.index()
    repository.unload("n")
    repository.load("n")
    assert IndexEntry("n", 3, "READY") in repository.index()
    for name in ("..", ".hidden", "file.txt", "nope"):
        with pytest.raises(InvalidInput, match="holds no directory of that name"):
            repository.load(name)
