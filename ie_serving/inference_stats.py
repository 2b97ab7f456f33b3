"""Per model version inference statistics, as Triton's statistics extension reports them
(triton-inference-server/server docs/protocol/extension_statistics.md; the messages of
common/protobuf/grpc_service.proto): inference and execution counts, the time of the last
inference, and {count, ns} for success, fail, queue, compute_input, compute_infer and
compute_output, overall and per batch size.

Every predict of every front end is counted here, at the point where the Prometheus runtime
metric is recorded (`Service.predict`): the time is the pipeline's, from the version's lease
to the outputs (decoding the request against the version and validating it are
compute_input, the wait for a free infer request is queue, OpenVINO's infer is
compute_infer, copying the outputs out is compute_output; reading the body before and
encoding the answer after are the front end's and not counted). A version's counters live
with the version and start at zero when it loads, as Triton's do.

One request takes the version's own lock once, uncontended but for requests of the same
version finishing at the same instant; nothing here depends on Prometheus.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ie_serving.errors import InvalidInput
from ie_serving.versions import State

if TYPE_CHECKING:
    from ie_serving.store import ModelStore, ServedVersion

MAX_BATCH_SIZES = 1024  # distinct batch sizes kept per version; later new sizes count overall only

# inference_stats as the extension's JSON lists them; cache_hit and cache_miss stay zero (no cache)
DURATIONS = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output", "cache_hit", "cache_miss")
_SUCCESS, _FAIL, _QUEUE, _INPUT, _INFER, _OUTPUT = range(6)


@dataclasses.dataclass
class Phases:
    """Where one request's time went, in nanoseconds: compute_input is filled by
    Service.predict, the rest by CompiledVersion.infer. A request batched with others
    (batching.py) ran in an execution of `executed_batch` rows that counts once, for the
    first request of its batch (`executions` 0 for the others)."""

    compute_input: int = 0
    queue: int = 0
    compute_infer: int = 0
    compute_output: int = 0
    executions: int = 1
    executed_batch: int | None = None  # None: the request ran alone, its own batch size


class VersionStatistics:
    """The counters of one model version; `record_*` are called once per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inference_count = 0
        self.execution_count = 0
        self.last_inference = 0  # ms since the epoch
        self._durations = [[0, 0] for _ in DURATIONS]  # [count, ns] per DURATIONS entry
        self._batches: dict[int, list[int]] = {}  # batch size -> [count, input ns, infer ns, output ns]

    def record_success(self, batch_size: int, total_ns: int, phases: Phases) -> None:
        """A request that got its outputs: `batch_size` inferences, in its own execution or
        in a batch's (inference_stats per request, execution_count and batch_stats per
        execution, as Triton counts them)."""
        now_ms = time.time_ns() // 1_000_000
        with self._lock:
            self.inference_count += batch_size
            self.execution_count += phases.executions
            self.last_inference = now_ms
            durations = self._durations
            for index, ns in (
                (_SUCCESS, total_ns),
                (_QUEUE, phases.queue),
                (_INPUT, phases.compute_input),
                (_INFER, phases.compute_infer),
                (_OUTPUT, phases.compute_output),
            ):
                durations[index][0] += 1
                durations[index][1] += ns
            if not phases.executions:
                return
            executed = batch_size if phases.executed_batch is None else phases.executed_batch
            batch = self._batches.get(executed)
            if batch is None:
                if len(self._batches) >= MAX_BATCH_SIZES:
                    return
                batch = self._batches[executed] = [0, 0, 0, 0]
            batch[0] += 1
            batch[1] += phases.compute_input
            batch[2] += phases.compute_infer
            batch[3] += phases.compute_output

    def record_failure(self, total_ns: int) -> None:
        """A request that reached this version and failed (invalid input, overload, inference error)."""
        now_ms = time.time_ns() // 1_000_000
        with self._lock:
            self.last_inference = now_ms
            self._durations[_FAIL][0] += 1
            self._durations[_FAIL][1] += total_ns

    def as_dict(self, name: str, version: int) -> dict[str, object]:
        """The extension's $model_stat object (field names as in grpc_service.proto's
        ModelStatistics, so the gRPC front end parses the same dict)."""
        with self._lock:
            durations = [list(pair) for pair in self._durations]
            batches = sorted((size, list(values)) for size, values in self._batches.items())
            counts = (self.last_inference, self.inference_count, self.execution_count)
        return {
            "name": name,
            "version": str(version),
            "last_inference": counts[0],
            "inference_count": counts[1],
            "execution_count": counts[2],
            "inference_stats": {key: {"count": c, "ns": ns} for key, (c, ns) in zip(DURATIONS, durations, strict=True)},
            "batch_stats": [
                {
                    "batch_size": size,
                    "compute_input": {"count": count, "ns": input_ns},
                    "compute_infer": {"count": count, "ns": infer_ns},
                    "compute_output": {"count": count, "ns": output_ns},
                }
                for size, (count, input_ns, infer_ns, output_ns) in batches
            ],
        }


def model_statistics(store: ModelStore, name: str = "", version: int | None = None) -> list[dict[str, object]]:
    """$model_stat objects of the versions ready for inference (AVAILABLE): every model's
    when `name` is empty, else that model's, else that one version. InvalidInput (Triton
    answers INVALID_ARG, HTTP 400) in Triton's words for a model with no ready version or a
    version that is not ready (core tritonserver.cc TRITONSERVER_ServerModelStatistics)."""
    if not name:
        return [s.statistics.as_dict(n, s.version) for n, s in _ready(store, sorted(store.models))]
    ready = [s for _, s in _ready(store, [name])]
    if not ready:
        raise InvalidInput(f"requested model '{name}' is not available")
    if version is not None:
        ready = [s for s in ready if s.version == version]
        if not ready:
            raise InvalidInput(f"requested model version is not available for model '{name}'")
    return [s.statistics.as_dict(name, s.version) for s in ready]


def _ready(store: ModelStore, names: list[str]) -> Iterator[tuple[str, ServedVersion]]:
    """(name, version) of the AVAILABLE versions of the named models, by version number."""
    models = store.models  # one snapshot of the model map
    for name in names:
        model = models.get(name)
        if model is None:
            continue
        for number in sorted(model.versions):
            served = model.versions[number]
            if served.state == State.AVAILABLE:
                yield name, served
