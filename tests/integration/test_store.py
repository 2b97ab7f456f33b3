"""ModelStore leases and the Reconciler on real local model directories, without sockets."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from ie_serving.config import ModelConfig
from ie_serving.errors import ServableNotFound
from ie_serving.reconcile import Reconciler
from ie_serving.storage import storage_for
from ie_serving.storage.listing import VersionListing
from ie_serving.store import ModelStore, ServedModel, ServedVersion
from ie_serving.versions import State, VersionPolicy
from tests import models


def _reconciler(*configs: ModelConfig) -> Reconciler:
    """A store serving `configs` after their first load attempt, with its reconciler."""
    store = ModelStore(tuple(ServedModel(config, storage_for(config.base_path)) for config in configs))
    reconciler = Reconciler(store)
    reconciler.reconcile_all(fatal_storage_errors=True)
    return reconciler


def test_transitions_are_guarded():
    served = ServedVersion("m", VersionListing(1, ()))
    with pytest.raises(RuntimeError, match="model m version 1: cannot go AVAILABLE -> UNLOADING, it is START"):
        served.begin_unload()


def test_unload_waits_for_in_flight_requests(tmp_path):
    models.save(models.scale_model(), tmp_path / "m")
    store = _reconciler(ModelConfig("m", str(tmp_path / "m"))).store
    with store.lease("m") as served:
        served.begin_unload()
        finisher = threading.Thread(target=served.finish_unload)
        finisher.start()
        finisher.join(timeout=0.3)
        assert finisher.is_alive() and served.state == State.UNLOADING
        y = served.compiled.infer({"x": np.ones((1, 4), np.float32)}, ["y"])["y"]  # still compiled
        assert y.tolist() == [[2.0] * 4]
    finisher.join(timeout=5)
    assert served.state == State.END and served.compiled is None
    with pytest.raises(ServableNotFound, match=r"^Servable not found for request: Latest\(m\)$"):
        store.lease("m").__enter__()


def test_reconcile_follows_policy_and_storage(tmp_path):
    base = tmp_path / "m"
    for version in (1, 2, 3):
        models.save(models.scale_model(float(version)), base, version)
    reconciler = _reconciler(ModelConfig("m", str(base), version_policy=VersionPolicy("latest", num_versions=2)))
    store = reconciler.store
    assert {v: s.state for v, s in store.models["m"].versions.items()} == {2: State.AVAILABLE, 3: State.AVAILABLE}
    shutil.rmtree(base / "3")
    reconciler.reconcile_all()
    versions = store.models["m"].versions
    assert versions[1].state == State.AVAILABLE and versions[2].state == State.AVAILABLE
    assert versions[3].state in (State.UNLOADING, State.END)
    with pytest.raises(ServableNotFound, match=r"Servable not found for request: Specific\(m, 4\)"):
        store.lease("m", 4).__enter__()


def test_models_added_and_removed_at_run_time(tmp_path):
    models.save(models.scale_model(2.0), tmp_path / "a")
    models.save(models.scale_model(3.0), tmp_path / "b")
    reconciler = _reconciler(ModelConfig("a", str(tmp_path / "a")))
    store = reconciler.store
    reconciler.add_model(ModelConfig("b", str(tmp_path / "b")))
    with store.lease("b") as served:
        assert served.compiled.infer({"x": np.ones((1, 4), np.float32)}, ["y"])["y"].tolist() == [[3.0] * 4]
        reconciler.remove_model("b")  # in flight: the compiled model stays until the lease ends
        assert served.compiled is not None
    with pytest.raises(ServableNotFound, match=r"Latest\(b\)"):
        store.lease("b").__enter__()
    with pytest.raises(ValueError, match="model a is already served"):
        reconciler.add_model(ModelConfig("a", str(tmp_path / "b")))
    with pytest.raises(KeyError):
        reconciler.remove_model("b")
    reconciler.reconcile_all()  # the poller ignores removed models
    assert set(store.models) == {"a"}


def test_zero_padded_version_directories_load(tmp_path):
    """TF Serving reads 00000123/ as version 123 (storage_path.h ParseVersionNumber): the
    version is listed as 123 and read from the directory as it is named."""
    base = tmp_path / "m"
    models.save(models.scale_model(3.0), base, 123)
    (base / "123").rename(base / "00000123")
    models.save(models.scale_model(5.0), base, 7)
    (base / "7").rename(base / "07")
    store = _reconciler(ModelConfig("m", str(base), version_policy=VersionPolicy("all"))).store
    assert {v: s.state for v, s in store.models["m"].versions.items()} == {7: State.AVAILABLE, 123: State.AVAILABLE}
    with store.lease("m") as served:
        assert served.version == 123
        assert served.compiled.infer({"x": np.ones((1, 4), np.float32)}, ["y"])["y"].tolist() == [[3.0] * 4]
    with store.lease("m", 7) as served:
        assert served.compiled.infer({"x": np.ones((1, 4), np.float32)}, ["y"])["y"].tolist() == [[5.0] * 4]
