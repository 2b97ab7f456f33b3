"""The KServe v2 gRPC service answers an overloaded version UNAVAILABLE, as Triton answers a full
queue (Status::Code::UNAVAILABLE, "Exceeds maximum queue size": triton-inference-server/core
src/scheduler_utils.cc) and as v2 REST answers it (503); TF Serving's PredictionService answers
the same overload RESOURCE_EXHAUSTED."""

from __future__ import annotations

import grpc
import pytest

from ie_serving.errors import Overloaded
from ie_serving.grpc_api import PredictionServicer
from ie_serving.protos.inference import grpc_service_pb2 as pb
from ie_serving.protos.tensorflow_serving.apis import predict_pb2
from ie_serving.service import Service
from ie_serving.v2_core import Dataplane
from ie_serving.v2_grpc import InferenceServicer
from tests.stub_versions import Scale, served, store_of


class _Aborted(Exception):
    pass


class _Context:
    """What grpcio's ServicerContext offers the servicers: the deadline, and abort (which raises)."""

    def time_remaining(self) -> None:
        return None

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.code, self.details = code, details
        raise _Aborted


def _service() -> Service:
    return Service(store_of("m", served(1, Scale(2.0, Overloaded("all infer requests are busy")))))


def test_an_overloaded_version_is_unavailable_over_v2_grpc():
    request = pb.ModelInferRequest(model_name="m")
    tensor = request.inputs.add(name="x", datatype="FP32", shape=[1, 2])
    tensor.contents.fp32_contents.extend([1.0, 2.0])
    context = _Context()
    with pytest.raises(_Aborted):
        InferenceServicer(Dataplane(_service())).ModelInfer(request, context)
    assert context.code == grpc.StatusCode.UNAVAILABLE
    assert context.details == "all infer requests are busy"


def test_the_same_overload_stays_resource_exhausted_over_tf_serving_grpc():
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    tensor = request.inputs["x"]
    tensor.dtype = 1  # DT_FLOAT
    tensor.tensor_shape.dim.add(size=1)
    tensor.tensor_shape.dim.add(size=2)
    tensor.float_val.extend([1.0, 2.0])
    context = _Context()
    with pytest.raises(_Aborted):
        PredictionServicer(_service()).Predict(request, context)
    assert context.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert context.details == "all infer requests are busy"
