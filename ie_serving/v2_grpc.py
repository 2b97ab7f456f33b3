"""The KServe v2 / Open Inference Protocol gRPC service, `inference.GRPCInferenceService`
(kserve/open-inference-protocol specification/protocol/inference_grpc.md), served on the
gRPC port beside TF Serving's services. Thin: decode (v2_proto), call v2_core, encode;
failures end the RPC through the errors table.

An overloaded version (every infer request busy, the wait queue full) is UNAVAILABLE, as
Triton answers a full queue ("Exceeds maximum queue size", core src/scheduler_utils.cc) and as
v2 REST answers it (503); TF Serving's services answer it RESOURCE_EXHAUSTED.

ServerReady and ModelReady answer `ready: false` rather than an error when not ready, as the
spec's messages carry it; ModelReady of a model the server does not know is NOT_FOUND.

Triton's extensions too: ModelStatistics, and RepositoryIndex, RepositoryModelLoad and
RepositoryModelUnload where the server offers the model repository (else UNIMPLEMENTED).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
from google.protobuf import json_format

from ie_serving.errors import Code
from ie_serving.grpc_common import abort, deadline, parsing_handlers
from ie_serving.protos.inference import grpc_service_pb2 as pb
from ie_serving.service import Call, Service
from ie_serving.v2_core import Dataplane, parse_version
from ie_serving.v2_proto import V2ProtoRequest, encode_response, plain_parameters

if TYPE_CHECKING:
    from ie_serving.repository import ModelRepository

SERVICE_NAME = "inference.GRPCInferenceService"
PROTOCOL = "v2-grpc"
CODE_OVERRIDES = {Code.RESOURCE_EXHAUSTED: Code.UNAVAILABLE}


class InferenceServicer:
    """inference.GRPCInferenceService over one Dataplane."""

    def __init__(self, dataplane: Dataplane):
        self.dataplane = dataplane

    def _call(self, method: str, name: str, version: str, context: grpc.ServicerContext, body: Callable):
        try:
            with Call(PROTOCOL, method, name, metrics=self.dataplane.service.metrics) as call:
                call.version = parse_version(version)
                return body(call.version)
        except Exception as exc:  # every failure is answered; a bug fails this request only
            abort(context, exc, CODE_OVERRIDES)

    def ServerLive(self, request, context):  # noqa: N802 (gRPC method name)
        return self._call("ServerLive", "", "", context, lambda _: pb.ServerLiveResponse(live=self.dataplane.live()))

    def ServerReady(self, request, context):  # noqa: N802
        return self._call(
            "ServerReady", "", "", context, lambda _: pb.ServerReadyResponse(ready=self.dataplane.ready())
        )

    def ModelReady(self, request, context):  # noqa: N802
        return self._call(
            "ModelReady",
            request.name,
            request.version,
            context,
            lambda version: pb.ModelReadyResponse(ready=self.dataplane.model_ready(request.name, version)),
        )

    def ServerMetadata(self, request, context):  # noqa: N802
        return self._call(
            "ServerMetadata", "", "", context, lambda _: pb.ServerMetadataResponse(**self.dataplane.server_metadata())
        )

    def ModelMetadata(self, request, context):  # noqa: N802
        def body(version: int | None) -> pb.ModelMetadataResponse:
            metadata = self.dataplane.model_metadata(request.name, version)
            response = pb.ModelMetadataResponse(
                name=metadata.name, versions=metadata.versions, platform=metadata.platform
            )
            for tensor in metadata.inputs:
                response.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
            for tensor in metadata.outputs:
                response.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
            return response

        return self._call("ModelMetadata", request.name, request.version, context, body)

    def ModelInfer(self, request, context):  # noqa: N802
        def body(version: int | None) -> pb.ModelInferResponse:
            decoder = V2ProtoRequest(request)
            result = self.dataplane.infer(request.model_name, version, decoder, deadline(context))
            return encode_response(request.model_name, result.version, decoder.request, result.outputs)

        return self._call("ModelInfer", request.model_name, request.model_version, context, body)

    def ModelStatistics(self, request, context):  # noqa: N802
        def body(version: int | None) -> pb.ModelStatisticsResponse:
            stats = self.dataplane.statistics(request.name, version)
            return json_format.ParseDict({"model_stats": stats}, pb.ModelStatisticsResponse())

        return self._call("ModelStatistics", request.name, request.version, context, body)

    def RepositoryIndex(self, request, context):  # noqa: N802
        def body(_: int | None) -> pb.RepositoryIndexResponse:
            entries = self.dataplane.model_repository(request.repository_name).index(request.ready)
            response = pb.RepositoryIndexResponse()
            for entry in entries:
                response.models.add(**entry.as_dict())
            return response

        return self._call("RepositoryIndex", "", "", context, body)

    def RepositoryModelLoad(self, request, context):  # noqa: N802
        def body(_: int | None) -> pb.RepositoryModelLoadResponse:
            repository = self.dataplane.model_repository(request.repository_name)
            repository.load(request.model_name, plain_parameters(request.parameters))
            return pb.RepositoryModelLoadResponse()

        return self._call("RepositoryModelLoad", request.model_name, "", context, body)

    def RepositoryModelUnload(self, request, context):  # noqa: N802
        def body(_: int | None) -> pb.RepositoryModelUnloadResponse:
            repository = self.dataplane.model_repository(request.repository_name)
            repository.unload(request.model_name, plain_parameters(request.parameters))
            return pb.RepositoryModelUnloadResponse()

        return self._call("RepositoryModelUnload", request.model_name, "", context, body)


def handler(service: Service, repository: ModelRepository | None = None) -> grpc.GenericRpcHandler:
    """The GRPCInferenceService methods over `service`, for grpc.Server.add_generic_rpc_handlers;
    repository: the model repository extension's core (None: its calls are UNIMPLEMENTED)."""
    servicer = InferenceServicer(Dataplane(service, repository))
    methods = {
        "ServerLive": pb.ServerLiveRequest,
        "ServerReady": pb.ServerReadyRequest,
        "ModelReady": pb.ModelReadyRequest,
        "ServerMetadata": pb.ServerMetadataRequest,
        "ModelMetadata": pb.ModelMetadataRequest,
        "ModelInfer": pb.ModelInferRequest,
        "ModelStatistics": pb.ModelStatisticsRequest,
        "RepositoryIndex": pb.RepositoryIndexRequest,
        "RepositoryModelLoad": pb.RepositoryModelLoadRequest,
        "RepositoryModelUnload": pb.RepositoryModelUnloadRequest,
    }
    return parsing_handlers(
        SERVICE_NAME, {name: (getattr(servicer, name), request_type) for name, request_type in methods.items()}
    )
