"""The statistics extension's counters (ie_serving/inference_stats.py) as Service.predict feeds
them, in the shapes of Triton's extension (triton-inference-server/server
docs/protocol/extension_statistics.md: $model_stat, $inference_stats, $batch_stats,
$duration_stat) and with its errors (core tritonserver.cc TRITONSERVER_ServerModelStatistics:
"requested model 'M' is not available", "requested model version is not available for model
'M'"). Versions are stand-ins (tests/stub_versions.py); tests/functional read the same
counters through tritonclient."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from ie_serving.errors import InferenceFailed, InvalidInput
from ie_serving.inference_stats import MAX_BATCH_SIZES, Phases, VersionStatistics, model_statistics
from ie_serving.service import Service
from ie_serving.store import ModelStore, ServedModel
from ie_serving.tensor_spec import Decoded
from tests.stub_versions import Scale, served, store_of


def _inputs(rows: int, columns: int = 2):
    return lambda _: Decoded({"x": np.ones((rows, columns), np.float32)})


@pytest.fixture
def store() -> ModelStore:
    first = store_of("m", served(1, Scale(2.0)), served(2, Scale(3.0))).models["m"]
    other = store_of("a", served(4, Scale(1.0), name="a")).models["a"]
    return ModelStore((first, other))


def test_predicts_are_counted_per_version_with_their_batch_and_outcome(store):
    service = Service(store)
    before = time.time_ns() // 1_000_000
    service.predict("m", 1, _inputs(1))
    service.predict("m", 1, _inputs(3))
    service.predict("m", 1, _inputs(3))
    with pytest.raises(InvalidInput):  # reached version 1, then failed validation
        service.predict("m", 1, _inputs(1, columns=5))
    service.predict("m", None, _inputs(2))  # the latest: version 2
    (one,) = model_statistics(store, "m", 1)
    assert one["name"] == "m" and one["version"] == "1"
    assert one["inference_count"] == 7 and one["execution_count"] == 3
    assert before <= one["last_inference"] <= time.time_ns() // 1_000_000
    stats = one["inference_stats"]
    counted = ("success", "fail", "queue", "compute_input", "compute_infer")
    assert [stats[k]["count"] for k in counted] == [3, 1, 3, 3, 3]
    assert stats["success"]["ns"] >= stats["compute_input"]["ns"] > 0
    assert stats["fail"]["ns"] > 0
    assert stats["cache_hit"] == {"count": 0, "ns": 0} and stats["cache_miss"] == {"count": 0, "ns": 0}
    assert [(b["batch_size"], b["compute_infer"]["count"]) for b in one["batch_stats"]] == [(1, 1), (3, 2)]
    (two,) = model_statistics(store, "m", 2)
    assert (two["inference_count"], two["execution_count"]) == (2, 1)


def test_an_inference_failure_is_a_fail_and_an_unknown_model_counts_nowhere():
    store = store_of("m", served(1, Scale(2.0, failure=InferenceFailed("OpenVINO inference failed: boom"))))
    with pytest.raises(InferenceFailed):
        Service(store).predict("m", None, _inputs(1))
    (stats,) = model_statistics(store, "m")
    assert stats["inference_stats"]["fail"]["count"] == 1 and stats["inference_stats"]["success"]["count"] == 0
    assert stats["inference_count"] == 0 and stats["batch_stats"] == []


def test_the_phases_add_up_as_recorded():
    statistics = VersionStatistics()
    statistics.record_success(4, 1000, Phases(compute_input=100, queue=50, compute_infer=700, compute_output=30))
    statistics.record_success(4, 2000, Phases(compute_input=200, queue=0, compute_infer=1500, compute_output=70))
    statistics.record_failure(300)
    stats = statistics.as_dict("m", 7)
    assert stats["inference_stats"] == {
        "success": {"count": 2, "ns": 3000},
        "fail": {"count": 1, "ns": 300},
        "queue": {"count": 2, "ns": 50},
        "compute_input": {"count": 2, "ns": 300},
        "compute_infer": {"count": 2, "ns": 2200},
        "compute_output": {"count": 2, "ns": 100},
        "cache_hit": {"count": 0, "ns": 0},
        "cache_miss": {"count": 0, "ns": 0},
    }
    assert stats["batch_stats"] == [
        {
            "batch_size": 4,
            "compute_input": {"count": 2, "ns": 300},
            "compute_infer": {"count": 2, "ns": 2200},
            "compute_output": {"count": 2, "ns": 100},
        }
    ]
    assert set(stats) == {
        "name",
        "version",
        "last_inference",
        "inference_count",
        "execution_count",
        "inference_stats",
        "batch_stats",
    }


def test_concurrent_requests_lose_no_count():
    statistics = VersionStatistics()

    def hammer():
        for _ in range(2000):
            statistics.record_success(2, 10, Phases(1, 2, 3, 4))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = statistics.as_dict("m", 1)
    assert (stats["inference_count"], stats["execution_count"]) == (32000, 16000)
    assert stats["inference_stats"]["compute_infer"] == {"count": 16000, "ns": 48000}


def test_batch_sizes_kept_are_bounded():
    statistics = VersionStatistics()
    for size in range(1, MAX_BATCH_SIZES + 10):
        statistics.record_success(size, 1, Phases())
    stats = statistics.as_dict("m", 1)
    assert len(stats["batch_stats"]) == MAX_BATCH_SIZES
    assert stats["execution_count"] == MAX_BATCH_SIZES + 9  # counted overall all the same


def test_which_versions_are_reported_and_triton_errors(store):
    assert [(s["name"], s["version"]) for s in model_statistics(store)] == [("a", "4"), ("m", "1"), ("m", "2")]
    assert [s["version"] for s in model_statistics(store, "m")] == ["1", "2"]
    store.models["m"].versions[1].begin_unload()  # no longer ready: not reported
    assert [s["version"] for s in model_statistics(store, "m")] == ["2"]
    with pytest.raises(InvalidInput, match=r"^requested model version is not available for model 'm'$"):
        model_statistics(store, "m", 1)
    with pytest.raises(InvalidInput, match=r"^requested model version is not available for model 'm'$"):
        model_statistics(store, "m", 9)
    with pytest.raises(InvalidInput, match=r"^requested model 'nope' is not available$"):
        model_statistics(store, "nope")
    empty = ServedModel(store.models["a"].config, storage=None)  # configured, nothing loaded
    with pytest.raises(InvalidInput, match=r"^requested model 'a' is not available$"):
        model_statistics(ModelStore((empty,)), "a")
    assert model_statistics(ModelStore((empty,))) == []


def test_batched_requests_count_their_batchs_execution_once():
    """Two requests of 1 row run in one batch of 2: two inferences, one execution, batch_stats
    of size 2 once; each request's phases count in inference_stats (Triton's aggregation)."""
    statistics = VersionStatistics()
    statistics.record_success(1, 500, Phases(1, 2, 300, 0, executions=1, executed_batch=2))
    statistics.record_success(1, 600, Phases(1, 3, 300, 0, executions=0, executed_batch=2))
    stats = statistics.as_dict("m", 1)
    assert (stats["inference_count"], stats["execution_count"]) == (2, 1)
    assert stats["inference_stats"]["compute_infer"] == {"count": 2, "ns": 600}
    assert [(b["batch_size"], b["compute_infer"]["count"]) for b in stats["batch_stats"]] == [(2, 1)]
