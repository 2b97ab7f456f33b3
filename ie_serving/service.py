"""The protocol-free core that every front end calls: resolve the model version, check
the request against it, run inference, and describe models for metadata and status."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ie_serving.dtypes import can_convert, tf_name
from ie_serving.engine import TensorSpec, check_input_names
from ie_serving.errors import FailedPrecondition, InvalidInput
from ie_serving.store import ModelStore, State

log = logging.getLogger(__name__)

SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"


@dataclasses.dataclass(frozen=True)
class Prediction:
    version: int
    outputs: dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Metadata:
    version: int
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    version: int
    state: State
    error_code: int
    error_message: str


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "any shape" if shape is None else str(list(shape))


def _prepare_inputs(
    inputs: Mapping[str, np.ndarray], specs: Mapping[str, TensorSpec], where: str
) -> dict[str, np.ndarray]:
    check_input_names(inputs, specs, where)
    prepared = {}
    for name, array in inputs.items():
        spec = specs[name]
        if array.dtype != spec.dtype:
            if not can_convert(array.dtype, spec.dtype):
                raise InvalidInput(
                    f"{where}: input {name!r} expects dtype {tf_name(spec.dtype)}, got {tf_name(array.dtype)}"
                )
            array = array.astype(spec.dtype)
        if not spec.accepts_shape(array.shape):
            raise InvalidInput(
                f"{where}: input {name!r} expects shape {_shape_text(spec.shape)} (-1: any size), "
                f"got {list(array.shape)}"
            )
        prepared[name] = array
    return prepared


class Service:
    """Predict, metadata and status over one ModelStore."""

    def __init__(self, store: ModelStore):
        self.store = store

    def predict(
        self,
        name: str,
        version: int | None,
        inputs: Mapping[str, np.ndarray],
        output_filter: Sequence[str] = (),
        signature_name: str = "",
        deadline: float | None = None,
    ) -> Prediction:
        """Run one request; raise a ServingError subclass for anything the client must fix.

        deadline (a time.monotonic() value) bounds the wait for a free infer request."""
        check_signature(signature_name)
        with self.store.lease(name, version) as served:
            engine = served.engine
            assert engine is not None  # a leased version is AVAILABLE and keeps its engine
            where = f"model {name} version {served.version}"
            prepared = _prepare_inputs(inputs, engine.inputs, where)
            unknown = sorted(set(output_filter) - set(engine.outputs))
            if unknown:
                raise InvalidInput(
                    f"{where}: output_filter names unknown output(s) {unknown}; outputs: {sorted(engine.outputs)}"
                )
            wanted: Iterable[str] = dict.fromkeys(output_filter) if output_filter else engine.outputs
            return Prediction(served.version, engine.infer(prepared, wanted, deadline))

    def metadata(self, name: str, version: int | None) -> Metadata:
        with self.store.lease(name, version) as served:
            engine = served.engine
            assert engine is not None
            return Metadata(served.version, engine.inputs, engine.outputs)

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


def check_signature(signature_name: str) -> None:
    """Only the default signature exists; an empty name means it too."""
    if signature_name not in ("", SIGNATURE):
        raise FailedPrecondition(
            f'Serving signature key "{signature_name}" not found; the only signature is "{SIGNATURE}"'
        )


def log_request(protocol: str, method: str, name: str, version: int | None, code: str, started: float) -> None:
    """DEBUG line per request: protocol, method, model, version, outcome, processing time."""
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s model=%s version=%s status=%s time=%.2f ms",
            protocol,
            method,
            name,
            version if version is not None else "latest",
            code,
            (time.perf_counter() - started) * 1000,
        )
