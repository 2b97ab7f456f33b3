"""KServe v2 / Open Inference Protocol gRPC tensors <-> numpy: ModelInferRequest inputs from
`raw_input_contents` or the typed `contents`, and ModelInferResponse outputs in
`raw_output_contents`, as Triton answers (kserve/open-inference-protocol
specification/protocol/inference_grpc.md). No gRPC or OpenVINO import here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ie_serving.dtypes import v2_name
from ie_serving.errors import InvalidInput, Unimplemented
from ie_serving.protos.inference import grpc_service_pb2
from ie_serving.tensor_spec import Decoded, SignatureLookup
from ie_serving.v2_tensors import InferRequest, RequestedOutput, binary_tensor, element_count, numpy_dtype, raw_bytes

# the InferTensorContents field of each datatype and the dtype its values arrive in
# (FP16 and BF16 have none: they travel raw only)
_CONTENTS = {
    "BOOL": ("bool_contents", np.bool_),
    "INT8": ("int_contents", np.int32),
    "INT16": ("int_contents", np.int32),
    "INT32": ("int_contents", np.int32),
    "INT64": ("int64_contents", np.int64),
    "UINT8": ("uint_contents", np.uint32),
    "UINT16": ("uint_contents", np.uint32),
    "UINT32": ("uint_contents", np.uint32),
    "UINT64": ("uint64_contents", np.uint64),
    "FP32": ("fp32_contents", np.float32),
    "FP64": ("fp64_contents", np.float64),
    "BYTES": ("bytes_contents", object),
}


def plain_parameters(
    parameters: Mapping[str, grpc_service_pb2.InferParameter | grpc_service_pb2.ModelRepositoryParameter],
) -> dict[str, object]:
    """InferParameter or ModelRepositoryParameter values (their `parameter_choice` oneof) as plain
    Python values; None for an unset one."""
    plain: dict[str, object] = {}
    for key, value in parameters.items():
        choice = value.WhichOneof("parameter_choice")
        plain[key] = None if choice is None else getattr(value, choice)
    return plain


def _typed_tensor(tensor: grpc_service_pb2.ModelInferRequest.InferInputTensor, where: str) -> np.ndarray:
    dtype = numpy_dtype(tensor.datatype, where)
    count = element_count(list(tensor.shape), where)
    field = _CONTENTS.get(tensor.datatype)
    if field is None:
        raise InvalidInput(f"{where}: {tensor.datatype} data must come in raw_input_contents (no typed field holds it)")
    values = getattr(tensor.contents, field[0])
    if len(values) != count:
        raise InvalidInput(
            f"{where}: shape {list(tensor.shape)} holds {count} elements, contents.{field[0]} has {len(values)}"
        )
    array = np.array(values, dtype=field[1])
    if dtype.kind in "iu" and array.size:
        info = np.iinfo(dtype)
        if array.min() < info.min or array.max() > info.max:
            raise InvalidInput(f"{where}: a value is outside {tensor.datatype}'s range [{info.min}, {info.max}]")
    return array.astype(dtype, copy=False).reshape(list(tensor.shape))


class V2ProtoRequest:
    """A service Decoder for one ModelInferRequest; `request` holds what the answer needs."""

    def __init__(self, message: grpc_service_pb2.ModelInferRequest):
        self.message = message
        self.request = InferRequest()

    def __call__(self, signature_of: SignatureLookup) -> Decoded:
        message = self.message
        outputs = []
        for output in message.outputs:
            if "classification" in output.parameters:
                raise Unimplemented(f"output {output.name!r}: the classification extension is not supported")
            outputs.append(RequestedOutput(output.name))
        self.request = InferRequest(message.id, plain_parameters(message.parameters), outputs)
        if not message.inputs:
            raise InvalidInput("ModelInferRequest has no inputs")
        raw = message.raw_input_contents
        if raw and len(raw) != len(message.inputs):
            raise InvalidInput(
                f"raw_input_contents has {len(raw)} entries for {len(message.inputs)} inputs; give one per input"
            )
        decoded: dict[str, np.ndarray] = {}
        for index, tensor in enumerate(message.inputs):
            where = f"input {tensor.name!r}"
            if tensor.name in decoded:
                raise InvalidInput(f"{where} is given twice")
            if raw:
                if tensor.HasField("contents"):
                    raise InvalidInput(f"{where}: contents must not be set when raw_input_contents is used")
                decoded[tensor.name] = binary_tensor(raw[index], tensor.datatype, list(tensor.shape), where)
            else:
                decoded[tensor.name] = _typed_tensor(tensor, where)
        return Decoded(decoded, "", [output.name for output in outputs], v2_name)


def encode_response(
    model_name: str, version: int, request: InferRequest, outputs: Mapping[str, np.ndarray]
) -> grpc_service_pb2.ModelInferResponse:
    """The ModelInferResponse: every output's bytes in raw_output_contents, in output order."""
    response = grpc_service_pb2.ModelInferResponse(model_name=model_name, model_version=str(version), id=request.id)
    for name, array in outputs.items():
        response.outputs.add(name=name, datatype=v2_name(array.dtype), shape=array.shape)
        response.raw_output_contents.append(raw_bytes(array))
    return response
