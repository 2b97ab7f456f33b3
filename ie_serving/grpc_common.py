"""What the gRPC front ends (TF Serving's services, KServe v2's GRPCInferenceService) share:
ending an RPC through the errors table, the client's deadline, and handlers that parse
request bytes themselves."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import grpc
from google.protobuf.message import DecodeError

from ie_serving.errors import Code, answer


def abort(context: grpc.ServicerContext, exc: BaseException, overrides: Mapping[Code, Code] | None = None) -> None:
    """End the RPC with the errors table's gRPC code and message for `exc`; `overrides` gives a
    front end's own code for a kind (KServe v2 answers an overloaded version UNAVAILABLE)."""
    failure = answer(exc)
    code = (overrides or {}).get(failure.code, failure.code)
    context.abort(getattr(grpc.StatusCode, code.grpc_name), failure.message)


def deadline(context: grpc.ServicerContext) -> float | None:
    """The client's deadline as a time.monotonic() value (None: none)."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


def parsing_handlers(service_name: str, methods: Mapping[str, tuple[Callable, type]]) -> grpc.GenericRpcHandler:
    """Handlers of `service_name`'s unary methods ({name: (method, request type)}) that parse the
    request bytes themselves: grpcio's own parsing answers malformed bytes with INTERNAL, the
    clients expect INVALID_ARGUMENT."""

    def handler(method, request_type):
        def call(raw: bytes, context: grpc.ServicerContext):
            try:
                request = request_type.FromString(raw)
            except DecodeError as exc:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"request is not a valid {request_type.DESCRIPTOR.full_name} protobuf: {exc}",
                )
            return method(request, context)

        return grpc.unary_unary_rpc_method_handler(
            call, response_serializer=lambda response: response.SerializeToString()
        )

    return grpc.method_handlers_generic_handler(
        service_name, {name: handler(method, request_type) for name, (method, request_type) in methods.items()}
    )
