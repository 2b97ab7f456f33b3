"""A raw gRPC client over the project's own stubs, for requests ovmsclient cannot make
(typed fields, bfloat16, output_filter, explicit versions) and for reading status codes."""

from __future__ import annotations

import grpc
import numpy as np

from ie_serving.protos.tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from ie_serving.tensor_proto import to_numpy, to_proto


class RawClient:
    def __init__(self, address: str, credentials: grpc.ChannelCredentials | None = None, options=()):
        """options: grpc channel options (for example grpc.ssl_target_name_override)."""
        self.channel = (
            grpc.secure_channel(address, credentials, options)
            if credentials
            else grpc.insecure_channel(address, options)
        )
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def predict_request(
        self, name: str, inputs: dict, version: int | None = None, **spec
    ) -> predict_pb2.PredictRequest:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        for key, value in spec.items():
            setattr(request.model_spec, key, value)
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(value if not isinstance(value, np.ndarray) else to_proto(value))
        return request

    def predict(
        self, name: str, inputs: dict, version: int | None = None, output_filter=(), timeout: float = 30, **spec
    ) -> tuple[int, dict[str, np.ndarray]]:
        request = self.predict_request(name, inputs, version, **spec)
        request.output_filter.extend(output_filter)
        response = self.predictions.Predict(request, timeout=timeout)
        return response.model_spec.version.value, {k: to_numpy(k, v) for k, v in response.outputs.items()}

    def metadata(self, name: str, version: int | None = None, fields=("signature_def",)):
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=list(fields))
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        response = self.predictions.GetModelMetadata(request, timeout=30)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        assert response.metadata["signature_def"].Unpack(signatures)
        return response, signatures

    def status(self, name: str, version: int | None = None) -> dict[int, tuple[str, int, str]]:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        response = self.models.GetModelStatus(request, timeout=30)
        state_name = get_model_status_pb2.ModelVersionStatus.State.Name
        return {
            s.version: (state_name(s.state), s.status.error_code, s.status.error_message)
            for s in response.model_version_status
        }
