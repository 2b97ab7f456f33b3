"""The one request pipeline every front end calls, and the one place each request is logged.

A front end opens a `Call` around its whole handling of a request; the call
records protocol, method, model, version, outcome and duration when it closes, whatever the
outcome (the per-request DEBUG line; metrics attach here too). Predict goes through
`Service.predict`: lease the version once, hand that version's signatures to the front end's
decoder, validate the decoded inputs once, infer, and return the outputs for the front end
to encode. Metadata and status read the same store.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from ie_serving.errors import Code, ServingError, code_of
from ie_serving.inference_stats import Phases
from ie_serving.store import ModelStore
from ie_serving.tensor_spec import Decoder, Signature, prepare_request
from ie_serving.versions import State

if TYPE_CHECKING:
    from ie_serving.metrics import Metrics

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Prediction:
    version: int
    outputs: dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Metadata:
    version: int
    signatures: Mapping[str, Signature]


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    version: int
    state: State
    error_code: int
    error_message: str


class Call:
    """One request from a front end, from its first byte to its answer: what it asked for and
    how it ended. Use as a context manager; an exception leaving it is its outcome."""

    def __init__(
        self, protocol: str, method: str, name: str = "", started: float | None = None, metrics: Metrics | None = None
    ):
        """metrics: where the request is counted when it finishes (None: monitoring is off)."""
        self.protocol = protocol
        self.method = method
        self.name = name
        self.version: int | None = None  # the version asked for; None: the latest
        self.started = time.perf_counter() if started is None else started
        self.outcome: Code | None = None  # None: OK
        self.metrics = metrics

    def __enter__(self) -> Call:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc is not None:
            self.outcome = code_of(exc)
            if not isinstance(exc, ServingError):  # a bug: its traceback goes to the log
                log.error("%s %s model=%s: unexpected error", self.protocol, self.method, self.name, exc_info=exc)
        self.finish()

    def finish(self) -> None:
        """Record the request: the metrics (metrics.py says which requests TF Serving counts
        and with which labels), and the DEBUG log line: protocol, method, model, version,
        outcome, time."""
        if self.metrics is not None:
            status = "OK" if self.outcome is None else self.outcome.grpc_name
            self.metrics.request(self.protocol, self.method, self.name, status, self.started)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s model=%s version=%s status=%s time=%.2f ms",
                self.protocol,
                self.method,
                self.name,
                self.version if self.version is not None else "latest",
                "OK" if self.outcome is None else self.outcome.name,
                (time.perf_counter() - self.started) * 1000,
            )


class Service:
    """Predict, metadata and status over one ModelStore."""

    def __init__(self, store: ModelStore, metrics: Metrics | None = None):
        """metrics: where requests are counted (runtime latency here, the rest by each Call)."""
        self.store = store
        self.metrics = metrics

    def predict(
        self,
        name: str,
        version: int | None,
        decode: Decoder,
        deadline: float | None = None,
        runtime_api: str | None = "Predict",
    ) -> Prediction:
        """Run one request; raise a ServingError subclass for anything the client must fix.

        The version is leased once: decoding, validation and inference all see the same one.
        deadline (a time.monotonic() value) bounds the wait for a free infer request.
        runtime_api: the API label of the inference's runtime_latency ("Classify", "Regress";
        None: not recorded, as TF Serving records none for MultiInference)."""
        with self.store.lease(name, version) as served:
            compiled = served.compiled
            assert compiled is not None  # a leased version is AVAILABLE and keeps its compiled model
            phases = Phases()
            began = time.perf_counter_ns()
            try:
                where = f"model {name} version {served.version}"
                with compiled.receiving():
                    inputs, wanted = prepare_request(compiled.signatures, decode, where, compiled.image_options)
                    prepared = time.perf_counter_ns()
                    outputs = compiled.infer(inputs, wanted, deadline, phases)
            except BaseException:
                served.statistics.record_failure(time.perf_counter_ns() - began)
                raise
            ended = time.perf_counter_ns()
            phases.compute_input = prepared - began
            served.statistics.record_success(_batch_size(inputs), ended - began, phases)
            if self.metrics is not None and runtime_api is not None:
                self.metrics.runtime(name, (ended - prepared) / 1e9, runtime_api)
            return Prediction(served.version, outputs)

    def labeled_version(self, name: str, label: str) -> int:
        """The version a label names (TF Serving's version labels); InvalidInput when none."""
        return self.store.version_for_label(name, label)

    def metadata(self, name: str, version: int | None) -> Metadata:
        with self.store.lease(name, version) as served:
            compiled = served.compiled
            assert compiled is not None
            return Metadata(served.version, compiled.signatures)

    def status(self, name: str, version: int | None) -> list[VersionStatus]:
        return [
            VersionStatus(
                s.version,
                s.state,
                s.error[0].number if s.error else 0,
                s.error[1] if s.error else "",
            )
            for s in self.store.status(name, version)
        ]


def _batch_size(inputs: Mapping[str, np.ndarray]) -> int:
    """The inferences one request holds, for the statistics: the leading dimension of its
    inputs (the batch, as TF Serving's batching reads it), 1 for scalars or no inputs."""
    for array in inputs.values():
        return int(array.shape[0]) if array.ndim else 1
    return 1
