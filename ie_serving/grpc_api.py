"""TF Serving gRPC servicers: PredictionService (Predict, Classify, Regress, MultiInference,
GetModelMetadata) and ModelService (GetModelStatus, HandleReloadConfigRequest). Thin: decode,
call the service, encode; failures answer through the errors table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent import futures
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2_grpc
from grpc_health.v1.health import HealthServicer

from ie_serving import v2_grpc
from ie_serving.config import GrpcTls
from ie_serving.errors import InvalidInput, Unimplemented
from ie_serving.grpc_common import abort, deadline, parsing_handlers
from ie_serving.inference_tasks import (
    Classifications,
    ExamplesDecoder,
    Method,
    Regressions,
    Result,
    Task,
    multi_inference_tasks,
)
from ie_serving.protos.tensorflow.core.protobuf import meta_graph_pb2
from ie_serving.protos.tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)
from ie_serving.service import Call, Service
from ie_serving.tensor_proto import predict_decoder, tf_dtype_enum, to_proto
from ie_serving.tensor_spec import SIGNATURE, TensorSpec

if TYPE_CHECKING:
    from ie_serving.repository import ModelRepository

# Calls beyond workers x this are answered RESOURCE_EXHAUSTED at once instead of queueing
# without bound. Generous: at 4 x 16, 64 closed-loop clients were refused 36 times in 22,000
# calls (a client's next call arrives before its last one is counted as finished); the
# per-version wait queue (--max_queued_requests) is the overload bound that matters.
CONCURRENT_RPCS_PER_WORKER = 16


def requested_version(spec: object, service: Service) -> int | None:
    """The version asked for, by number or by label; absent or 0 (OVMS clients' "latest") means
    the latest. An empty model name is INVALID_ARGUMENT with TF Serving's words
    (model_servers/server_core.cc)."""
    if not spec.name:
        raise InvalidInput("ModelSpec has no name specified.")
    if spec.HasField("version_label"):
        return service.labeled_version(spec.name, spec.version_label)
    if spec.HasField("version") and spec.version.value != 0:
        if spec.version.value < 0:
            raise InvalidInput(f"model_spec.version must be positive, got {spec.version.value}")
        return spec.version.value
    return None


def _tensor_info(spec: TensorSpec) -> meta_graph_pb2.TensorInfo:
    info = meta_graph_pb2.TensorInfo(name=spec.name, dtype=tf_dtype_enum(spec.dtype))
    if spec.shape is None:
        info.tensor_shape.unknown_rank = True
    else:
        for dim in spec.shape:
            info.tensor_shape.dim.add(size=dim)
    return info


class _Handler:
    """Runs one RPC body inside a service Call; failures answer through the errors table."""

    def __init__(self, service: Service):
        self.service = service

    def _call(self, method: str, request: object, context: grpc.ServicerContext, body):
        """Run body(name, version) for the request's model_spec ("Missing ModelSpec" without one)."""
        return self._run(method, request.model_spec if request.HasField("model_spec") else None, context, body)

    def _run(self, method: str, spec: model_pb2.ModelSpec | None, context: grpc.ServicerContext, body):
        try:
            with Call("grpc", method, spec.name if spec else "", metrics=self.service.metrics) as call:
                if spec is None:
                    raise InvalidInput("Missing ModelSpec")
                call.version = requested_version(spec, self.service)
                return body(call.name, call.version)
        except Exception as exc:  # every failure is answered; a bug fails this request only
            abort(context, exc)


def _model_spec(spec: model_pb2.ModelSpec, name: str, signature_name: str, version: int) -> None:
    """The answer's model_spec as TF Serving's MakeModelSpec writes it (servables/tensorflow/util.cc)."""
    spec.name = name
    spec.signature_name = signature_name or SIGNATURE
    spec.version.value = version


def _fill_classifications(result: Classifications, into: classification_pb2.ClassificationResult) -> None:
    for row in result.rows():
        classes = into.classifications.add().classes
        for label, score in row:
            classes.add(label=label, score=score)


def _fill_regressions(result: Regressions, into: regression_pb2.RegressionResult) -> None:
    for value in result.values.tolist():
        into.regressions.add(value=value)


def _fill_result(result: Result, into: inference_pb2.InferenceResult) -> None:
    if isinstance(result, Classifications):
        _fill_classifications(result, into.classification_result)
    else:
        _fill_regressions(result, into.regression_result)


class PredictionServicer(_Handler):
    """tensorflow.serving.PredictionService. Outputs go in the typed value fields, as TF Serving
    writes them by default, or in tensor_content when `tensor_content` is set."""

    def __init__(self, service: Service, tensor_content: bool = False):
        super().__init__(service)
        self.tensor_content = tensor_content

    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        def body(name: str, version: int | None) -> predict_pb2.PredictResponse:
            result = self.service.predict(name, version, predict_decoder(request), deadline(context))
            response = predict_pb2.PredictResponse()
            response.model_spec.name = name
            response.model_spec.version.value = result.version
            response.model_spec.signature_name = request.model_spec.signature_name or SIGNATURE
            for key, array in result.outputs.items():
                to_proto(array, response.outputs[key], self.tensor_content)
            return response

        return self._call("Predict", request, context, body)

    def _one_task(self, rpc: str, method: Method, request, context, response_type: type, fill: Callable):
        """Classify or Regress: the examples run through the pipeline once; `fill` writes the
        answer into the response's result."""

        def body(name: str, version: int | None):
            signature_name = request.model_spec.signature_name
            decoder = ExamplesDecoder([Task(method, signature_name)], request.input)
            result = self.service.predict(name, version, decoder, deadline(context), decoder.runtime_api)
            response = response_type()
            _model_spec(response.model_spec, name, signature_name, result.version)
            fill(decoder.results(result.outputs)[0], response.result)
            return response

        return self._call(rpc, request, context, body)

    def Classify(self, request, context):  # noqa: N802
        response_type = classification_pb2.ClassificationResponse
        return self._one_task("Classify", Method.CLASSIFY, request, context, response_type, _fill_classifications)

    def Regress(self, request, context):  # noqa: N802
        return self._one_task(
            "Regress", Method.REGRESS, request, context, regression_pb2.RegressionResponse, _fill_regressions
        )

    def MultiInference(self, request, context):  # noqa: N802
        """The tasks over one model, run once (TF Serving's multi_inference.cc rules: the
        model is the first task's; every task names it; no signature twice)."""

        def body(name: str, version: int | None) -> inference_pb2.MultiInferenceResponse:
            decoder = ExamplesDecoder(multi_inference_tasks(request.tasks), request.input)
            result = self.service.predict(name, version, decoder, deadline(context), decoder.runtime_api)
            response = inference_pb2.MultiInferenceResponse()
            for task, answer_of_task in zip(request.tasks, decoder.results(result.outputs), strict=True):
                entry = response.results.add()
                _model_spec(entry.model_spec, name, task.model_spec.signature_name, result.version)
                _fill_result(answer_of_task, entry)
            return response

        first = request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec()
        return self._run("MultiInference", first, context, body)

    def GetModelMetadata(self, request, context):  # noqa: N802
        def body(name: str, version: int | None) -> get_model_metadata_pb2.GetModelMetadataResponse:
            fields = list(request.metadata_field)
            if not fields:
                raise InvalidInput("GetModelMetadataRequest must specify at least one metadata_field: signature_def")
            unsupported = [f for f in fields if f != "signature_def"]
            if unsupported:
                raise InvalidInput(
                    f"Metadata field(s) {unsupported} not supported; the supported field is signature_def"
                )
            metadata = self.service.metadata(name, version)
            signatures = get_model_metadata_pb2.SignatureDefMap()
            for signature_name, served in metadata.signatures.items():
                signature = signatures.signature_def[signature_name]
                signature.method_name = served.method_name
                for key, spec in served.inputs.items():
                    signature.inputs[key].CopyFrom(_tensor_info(spec))
                for key, spec in served.outputs.items():
                    signature.outputs[key].CopyFrom(_tensor_info(spec))
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = name
            response.model_spec.version.value = metadata.version
            response.metadata["signature_def"].Pack(signatures)
            return response

        return self._call("GetModelMetadata", request, context, body)


class ModelServicer(_Handler):
    """tensorflow.serving.ModelService; HandleReloadConfigRequest applies a new model list
    through `reload` (config_reload.ConfigReloader.reload_proto)."""

    def __init__(self, service: Service, reload: Callable[[object], None] | None = None):
        super().__init__(service)
        self.reload = reload

    def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        try:
            with Call("grpc", "HandleReloadConfigRequest"):
                if self.reload is None:
                    raise Unimplemented("config reload is not available in this server")
                self.reload(request.config)
                return model_management_pb2.ReloadConfigResponse()  # status: error_code OK
        except Exception as exc:  # every failure is answered; a bug fails this request only
            abort(context, exc)

    def GetModelStatus(self, request, context):  # noqa: N802
        def body(name: str, version: int | None) -> get_model_status_pb2.GetModelStatusResponse:
            response = get_model_status_pb2.GetModelStatusResponse()
            for status in self.service.status(name, version):
                entry = response.model_version_status.add(version=status.version, state=int(status.state))
                entry.status.error_code = status.error_code
                entry.status.error_message = status.error_message
            return response

        return self._call("GetModelStatus", request, context, body)


def start_grpc_server(
    service: Service,
    port: int,
    workers: int,
    max_message_bytes: int,
    tls: GrpcTls | None = None,
    tensor_content: bool = False,
    extra_options: Sequence[tuple[str, int | str]] = (),
    health: HealthServicer | None = None,
    reload: Callable[[object], None] | None = None,
    repository: ModelRepository | None = None,
    socket_path: str | None = None,
) -> grpc.Server:
    """Bind 0.0.0.0:port, and the UNIX socket socket_path when given (TF Serving's
    --grpc_socket_path), with TLS when tls is given, and start serving; raise OSError when
    either cannot be bound. tensor_content: Predict outputs in tensor_content.
    extra_options (TF Serving's --grpc_channel_arguments) replace the server's own of the same
    name, so grpc.max_receive_message_length=N sets the limit. health: grpc.health.v1.Health
    is served too when given. repository: the v2 model repository extension's core."""
    options = {
        "grpc.max_receive_message_length": max_message_bytes,
        "grpc.max_send_message_length": max_message_bytes,
        "grpc.so_reuseport": 0,
    }
    options.update(extra_options)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        options=list(options.items()),
        maximum_concurrent_rpcs=workers * CONCURRENT_RPCS_PER_WORKER,
    )
    predictions, models = PredictionServicer(service, tensor_content), ModelServicer(service, reload)
    server.add_generic_rpc_handlers(
        (
            parsing_handlers(
                "tensorflow.serving.PredictionService",
                {
                    "Predict": (predictions.Predict, predict_pb2.PredictRequest),
                    "Classify": (predictions.Classify, classification_pb2.ClassificationRequest),
                    "Regress": (predictions.Regress, regression_pb2.RegressionRequest),
                    "MultiInference": (predictions.MultiInference, inference_pb2.MultiInferenceRequest),
                    "GetModelMetadata": (predictions.GetModelMetadata, get_model_metadata_pb2.GetModelMetadataRequest),
                },
            ),
            parsing_handlers(
                "tensorflow.serving.ModelService",
                {
                    "GetModelStatus": (models.GetModelStatus, get_model_status_pb2.GetModelStatusRequest),
                    "HandleReloadConfigRequest": (
                        models.HandleReloadConfigRequest,
                        model_management_pb2.ReloadConfigRequest,
                    ),
                },
            ),
            v2_grpc.handler(service, repository),
        )
    )
    if health is not None:
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
    credentials = None
    if tls is not None:
        credentials = grpc.ssl_server_credentials(
            [(tls.key, tls.chain)], root_certificates=tls.custom_ca, require_client_auth=tls.client_verify
        )
    _bind(server, f"0.0.0.0:{port}", credentials, f"gRPC port {port}")
    if socket_path:
        _bind(server, f"unix:{socket_path}", credentials, f"gRPC UNIX socket {socket_path}")
    server.start()
    return server


def _bind(server: grpc.Server, address: str, credentials: grpc.ServerCredentials | None, what: str) -> None:
    try:
        if credentials is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        raise OSError(f"cannot bind {what}: {exc}") from None
    if bound == 0:
        raise OSError(f"cannot bind {what}: address in use or not permitted")
