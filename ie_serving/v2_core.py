"""The KServe v2 / Open Inference Protocol calls without a transport, as KServe's
protocol/dataplane.py sits between its REST and gRPC front ends: health, server and model
metadata, and inference through the one pipeline (Service.predict). v2_rest and v2_grpc only
turn these answers into their wire formats. No Flask or gRPC import here.

Versions are the store's numbered versions, written as strings on the wire; an empty version
means the latest AVAILABLE one, as for the TF Serving API.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ie_serving import __version__
from ie_serving.dtypes import v2_name
from ie_serving.errors import InvalidInput, NotReady, Unimplemented
from ie_serving.inference_stats import model_statistics
from ie_serving.service import Prediction, Service
from ie_serving.tensor_spec import SIGNATURE, Decoder, TensorSpec, find_signature
from ie_serving.versions import State

if TYPE_CHECKING:
    from ie_serving.repository import ModelRepository

SERVER_NAME = "ie_serving"
# Triton's names of its extensions (extension_binary_data.md, extension_statistics.md); the
# server adds "model_repository" (extension_model_repository.md) where it offers that one
EXTENSIONS = ("binary_tensor_data", "statistics")
REPOSITORY_EXTENSION = "model_repository"
# the platform OpenVINO Model Server reports in v2 model metadata
PLATFORM = "OpenVINO"


@dataclasses.dataclass(frozen=True)
class TensorMetadata:
    name: str
    datatype: str
    shape: list[int]  # -1: a dimension of any size; empty for a dynamic rank


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


def parse_version(text: str) -> int | None:
    """A v2 model version: empty (or 0, as OVMS clients mean it) for the latest, else a number."""
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise InvalidInput(f"model version must be a version number, got {text!r}")
    return int(text) or None


def _tensor(name: str, spec: TensorSpec) -> TensorMetadata:
    return TensorMetadata(name, v2_name(spec.dtype), [] if spec.shape is None else list(spec.shape))


class Dataplane:
    """The v2 calls over one Service, and the extensions' (repository.py, inference_stats.py)."""

    def __init__(self, service: Service, repository: ModelRepository | None = None):
        """repository: the model repository extension's core (None, or withdrawn: not offered)."""
        self.service = service
        self.repository = repository

    @staticmethod
    def live() -> bool:
        """The process answers: live."""
        return True

    def ready(self) -> bool:
        """Ready when every configured model has an AVAILABLE version."""
        return self.service.store.all_available()

    def check_ready(self) -> None:
        """NotReady (503) naming the models without an AVAILABLE version, unless ready."""
        if not self.ready():
            waiting = sorted(
                name
                for name, model in self.service.store.models.items()
                if not any(s.state == State.AVAILABLE for s in model.versions.values())
            )
            raise NotReady(f"the server is not ready: no version AVAILABLE yet for model(s) {waiting}")

    def model_ready(self, name: str, version: int | None) -> bool:
        """True when the model (or that version) is AVAILABLE; ServableNotFound for a model or
        version the server does not know."""
        return any(status.state == State.AVAILABLE for status in self.service.status(name, version))

    def check_model_ready(self, name: str, version: int | None) -> None:
        if not self.model_ready(name, version):
            which = f"model {name}" if version is None else f"model {name} version {version}"
            raise NotReady(f"{which} is not ready: no AVAILABLE version (see GET /v1/models/{name} for its state)")

    def server_metadata(self) -> dict:
        offered = self.repository is not None and self.repository.withdrawn is None
        extensions = [*EXTENSIONS, REPOSITORY_EXTENSION] if offered else list(EXTENSIONS)
        return {"name": SERVER_NAME, "version": __version__, "extensions": extensions}

    def statistics(self, name: str, version: int | None) -> list[dict[str, object]]:
        """The statistics extension's $model_stat objects (every model when name is empty)."""
        return model_statistics(self.service.store, name, version)

    def model_repository(self, repository_name: str = "") -> ModelRepository:
        """The model repository extension's core; Unimplemented where the server does not offer
        it, InvalidInput for a named repository (this server has one, as Triton refuses a name)."""
        if self.repository is None or self.repository.withdrawn is not None:
            why = self.repository.withdrawn if self.repository is not None else "not configured"
            raise Unimplemented(f"the model repository extension is not offered here: {why}")
        if repository_name:
            raise InvalidInput("'repository_name' specification is not supported")
        return self.repository

    def model_metadata(self, name: str, version: int | None) -> ModelMetadata:
        """The served signature's tensors of the version asked for (or the latest), and every
        AVAILABLE version."""
        metadata = self.service.metadata(name, version)
        signature = find_signature(metadata.signatures, SIGNATURE)
        versions = [str(s.version) for s in self.service.status(name, None) if s.state == State.AVAILABLE]
        return ModelMetadata(
            name,
            versions,
            PLATFORM,
            [_tensor(key, spec) for key, spec in signature.inputs.items()],
            [_tensor(key, spec) for key, spec in signature.outputs.items()],
        )

    def infer(self, name: str, version: int | None, decode: Decoder, deadline: float | None) -> Prediction:
        """One inference through the pipeline: the decoder reads the request against the leased version."""
        return self.service.predict(name, version, decode, deadline)
