"""Stand-ins for compiled model versions with a known answer, for unit tests of the request
path that compile nothing (tests/functional run the same path on real models)."""

from __future__ import annotations

import contextlib

import numpy as np

from ie_serving.config import ModelConfig
from ie_serving.images import DEFAULT_IMAGE_OPTIONS
from ie_serving.storage.listing import VersionListing
from ie_serving.store import ModelStore, ServedModel, ServedVersion
from ie_serving.tensor_spec import SIGNATURE, Signature, TensorSpec


class Scale:
    """A compiled version that multiplies its float32 input `x` ([-1, 2]) by `factor`;
    `failure` (an exception) is raised by infer instead."""

    def __init__(self, factor: float, failure: BaseException | None = None):
        self.factor = factor
        self.failure = failure
        spec = TensorSpec("x", np.dtype(np.float32), (-1, 2))
        self.signatures = {SIGNATURE: Signature({"x": spec}, {"y": TensorSpec("y", spec.dtype, spec.shape)})}
        self.image_options = DEFAULT_IMAGE_OPTIONS

    def infer(self, inputs, outputs, deadline=None, phases=None):
        if self.failure is not None:
            raise self.failure
        return {name: inputs["x"] * self.factor for name in outputs}

    def receiving(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # no server-side batching to tell

    def batch_stats(self) -> None:
        return None  # no server-side batching

    def close(self) -> None:
        pass  # no batches to run


def served(version: int, compiled: Scale, name: str = "m") -> ServedVersion:
    """An AVAILABLE version of model `name` holding `compiled`."""
    version_state = ServedVersion(name, VersionListing(version, ()))
    assert version_state.load(lambda: compiled)
    return version_state


def store_of(name: str, *versions: ServedVersion) -> ModelStore:
    """A store serving one model with the given versions."""
    model = ServedModel(ModelConfig(name, "/unused"), storage=None)
    model.versions = {v.version: v for v in versions}
    return ModelStore((model,))
