"""Shared helpers of the example clients: connection flags, gRPC stubs, REST calls, tensor
conversion and result printing. Only grpcio, requests, numpy and the project's own protos.

Every script works the same way against one model: ask for its metadata, build or read the
input, call the server, print what came back.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping

import grpc
import numpy as np
import requests

from ie_serving.protos.tensorflow.core.framework import tensor_pb2, types_pb2
from ie_serving.protos.tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

# numpy dtype name <-> TF Serving DataType name (the dtypes the server serves, but bfloat16)
TF_DTYPES = {
    "float16": "DT_HALF",
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "int8": "DT_INT8",
    "int16": "DT_INT16",
    "int32": "DT_INT32",
    "int64": "DT_INT64",
    "uint8": "DT_UINT8",
    "uint16": "DT_UINT16",
    "uint32": "DT_UINT32",
    "uint64": "DT_UINT64",
    "bool": "DT_BOOL",
}
NUMPY_DTYPES = {tf: np.dtype(name) for name, tf in TF_DTYPES.items()}

# A model's inputs or outputs: name -> (numpy dtype, shape with -1 for a dynamic dimension)
Signature = dict[str, tuple[np.dtype, list[int]]]


def add_connection_flags(parser: argparse.ArgumentParser, protocol: str | None = None) -> None:
    """--model_name, --model_version and the server address flags; --protocol unless fixed."""
    parser.add_argument("--model_name", default="demo", help="model name on the server (default: demo)")
    parser.add_argument(
        "--model_version", type=int, default=None, help="version number to ask for (default: the latest AVAILABLE)"
    )
    if protocol is None:
        parser.add_argument(
            "--protocol", choices=("grpc", "rest"), default="grpc", help="API to call: grpc (default) or rest"
        )
    if protocol in (None, "grpc"):
        parser.add_argument(
            "--grpc_address",
            default="localhost:9000",
            help="gRPC host:port, the server's --port (default: %(default)s)",
        )
    if protocol in (None, "rest"):
        parser.add_argument(
            "--rest_url",
            default="http://localhost:8501",
            help="REST base URL, the server's --rest_port (default: %(default)s)",
        )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer (default: 30)")


class Client:
    """One model on one server, over gRPC or REST: status, metadata and predict."""

    def __init__(self, args: argparse.Namespace, protocol: str | None = None):
        self.protocol = protocol or args.protocol
        self.model = args.model_name
        self.version = args.model_version
        self.timeout = args.timeout
        if self.protocol == "grpc":
            self.channel = grpc.insecure_channel(
                args.grpc_address,
                options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
            )
            self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
            self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        else:
            self.session = requests.Session()
            path = f"/v1/models/{self.model}" + (f"/versions/{self.version}" if self.version else "")
            self.url = args.rest_url.rstrip("/") + path
        self.outputs: Signature = {}  # known after metadata()

    def _spec(self, spec) -> None:
        spec.name = self.model
        if self.version is not None:
            spec.version.value = self.version

    def _rest(self, method: str, suffix: str = "", body: object = None) -> dict:
        try:
            response = self.session.request(method, self.url + suffix, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SystemExit(f"error: {exc}") from None
        if response.status_code != 200:
            raise SystemExit(f"error: HTTP {response.status_code} from {response.url}: {response.text}")
        return response.json()

    def _grpc(self, method, request):
        """Call one gRPC method; a failure ends the script with its status code and message."""
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise SystemExit(f"error: gRPC {exc.code().name}: {exc.details()}") from None

    def status(self) -> list[tuple[int, str, str, str]]:
        """(version, state, error code, error message) for every version the server knows."""
        if self.protocol == "rest":
            body = self._rest("GET")
            return [
                (int(s["version"]), s["state"], s["status"]["error_code"], s["status"]["error_message"])
                for s in body["model_version_status"]
            ]
        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec)
        response = self._grpc(self.models.GetModelStatus, request)
        state_name = get_model_status_pb2.ModelVersionStatus.State.Name
        return [
            (s.version, state_name(s.state), _error_code_name(s.status.error_code), s.status.error_message)
            for s in response.model_version_status
        ]

    def metadata(self) -> tuple[int, Signature, Signature]:
        """(version, inputs, outputs) of the serving_default signature."""
        if self.protocol == "rest":
            body = self._rest("GET", "/metadata")
            signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
            version = int(body["model_spec"]["version"])
            parse = _json_tensor_info
        else:
            request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
            self._spec(request.model_spec)
            response = self._grpc(self.predictions.GetModelMetadata, request)
            signatures = get_model_metadata_pb2.SignatureDefMap()
            response.metadata["signature_def"].Unpack(signatures)
            signature = signatures.signature_def["serving_default"]
            version = response.model_spec.version.value
            parse = _proto_tensor_info
        ins = signature["inputs"] if isinstance(signature, dict) else signature.inputs
        outs = signature["outputs"] if isinstance(signature, dict) else signature.outputs
        self.outputs = {n: parse(i) for n, i in outs.items()}
        return version, {n: parse(i) for n, i in ins.items()}, self.outputs

    def predict(self, inputs: Mapping[str, np.ndarray], rest_format: str = "column") -> dict[str, np.ndarray]:
        """Send the inputs and return every output as a numpy array."""
        if self.protocol == "grpc":
            request = predict_pb2.PredictRequest()
            self._spec(request.model_spec)
            for name, array in inputs.items():
                request.inputs[name].CopyFrom(to_tensor_proto(array))
            response = self._grpc(self.predictions.Predict, request)
            return {name: from_tensor_proto(proto) for name, proto in response.outputs.items()}
        if rest_format == "column":
            body = self._rest("POST", ":predict", {"inputs": {n: a.tolist() for n, a in inputs.items()}})
            outputs = body["outputs"]
            named = outputs if isinstance(outputs, dict) else {self._only_output(): outputs}
            return {n: self._array(n, v) for n, v in named.items()}
        batch = len(next(iter(inputs.values())))
        instances = [{n: a[i].tolist() for n, a in inputs.items()} for i in range(batch)]
        predictions = self._rest("POST", ":predict", {"instances": instances})["predictions"]
        if predictions and isinstance(predictions[0], dict):  # several outputs: one object per item
            return {n: self._array(n, [item[n] for item in predictions]) for n in predictions[0]}
        return {self._only_output(): self._array(self._only_output(), predictions)}

    def _only_output(self) -> str:
        """REST names no output when the model has only one: the name comes from metadata."""
        return next(iter(self.outputs), "output")

    def _array(self, name: str, value: object) -> np.ndarray:
        """JSON numbers as an array of the output's dtype (from metadata)."""
        return np.array(value, dtype=self.outputs[name][0] if name in self.outputs else None)


def _error_code_name(code: int) -> str:
    from ie_serving.protos.tensorflow.core.protobuf import error_codes_pb2

    return error_codes_pb2.Code.Name(code)


def _json_tensor_info(info: Mapping) -> tuple[np.dtype, list[int]]:
    return NUMPY_DTYPES[info["dtype"]], [int(d["size"]) for d in info["tensor_shape"]["dim"]]


def _proto_tensor_info(info) -> tuple[np.dtype, list[int]]:
    return NUMPY_DTYPES[types_pb2.DataType.Name(info.dtype)], [d.size for d in info.tensor_shape.dim]


def to_tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A numpy array as a TensorProto with its bytes in tensor_content."""
    array = np.ascontiguousarray(array)
    proto = tensor_pb2.TensorProto(
        dtype=types_pb2.DataType.Value(TF_DTYPES[array.dtype.name]), tensor_content=array.tobytes()
    )
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


# The typed value field of each dtype, as TensorFlow's make_ndarray reads them
TYPED_FIELDS = {"DT_FLOAT": "float_val", "DT_DOUBLE": "double_val", "DT_INT64": "int64_val", "DT_BOOL": "bool_val"}
TYPED_FIELDS.update({name: "int_val" for name in ("DT_INT8", "DT_INT16", "DT_INT32", "DT_UINT8", "DT_UINT16")})
TYPED_FIELDS.update({"DT_HALF": "half_val", "DT_UINT32": "uint32_val", "DT_UINT64": "uint64_val"})


def from_tensor_proto(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """An answer tensor as numpy: from tensor_content when the server sends it there
    (--enable_serialization_as_tensor_content), else from its typed value field (the default,
    as TF Serving answers)."""
    dtype_name = types_pb2.DataType.Name(proto.dtype)
    dtype = NUMPY_DTYPES[dtype_name]
    shape = [d.size for d in proto.tensor_shape.dim]
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=dtype).reshape(shape)
    values = getattr(proto, TYPED_FIELDS[dtype_name])
    if dtype_name == "DT_HALF":
        return np.array(values, np.uint16).view(np.float16).reshape(shape)
    return np.array(values, dtype=dtype).reshape(shape)


def format_signature(signature: Signature) -> str:
    return ", ".join(f"{name} {dtype.name} {shape}" for name, (dtype, shape) in signature.items())


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k highest (class index, score) pairs of one row, best first."""
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in order]


def format_top_k(scores: np.ndarray, k: int) -> str:
    """`top-K class:score ...` for one row of class scores."""
    pairs = " ".join(f"{index}:{score:.6g}" for index, score in top_k(scores, k))
    return f"top-{min(k, len(scores))} class:score {pairs}"


SMALL_OUTPUT = 32  # elements: an output this small is printed whole


def print_outputs(outputs: Mapping[str, np.ndarray], k: int) -> None:
    """Each output's shape, its values when it is small, and for a [batch, classes] output
    (a classifier's, as far as the shape tells) the top-k of every item."""
    for name, array in outputs.items():
        print(f"output {name}: shape {list(array.shape)} dtype {array.dtype.name}")
        if array.size <= SMALL_OUTPUT:
            print(f"  values {array.tolist()}")
        if array.ndim == 2 and array.shape[1] > 1 and k > 0:
            for item, row in enumerate(array):
                print(f"  item {item} {format_top_k(row, k)}")


class Timer:
    """Milliseconds of one call: `with Timer() as t: ...; t.ms`."""

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms = (time.perf_counter() - self._start) * 1000


def add_predict_flags(parser: argparse.ArgumentParser) -> None:
    """The flags grpc_predict.py and rest_predict.py share."""
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="[NAME=]FILE.npy",
        help="numpy file for an input (repeat for several inputs; NAME= may be left out for a single-input model); "
        "inputs without a file get random data of the model's shape",
    )
    parser.add_argument(
        "--batch_size", type=int, default=1, help="first dimension of random inputs when the model's is -1 (default 1)"
    )
    parser.add_argument("--iterations", type=int, default=1, help="requests to send, timing each (default 1)")
    parser.add_argument("--top_k", type=int, default=5, help="classes to print per item for [batch, classes] outputs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


def build_inputs(specs: Signature, files: list[str], batch_size: int, seed: int) -> dict[str, np.ndarray]:
    """Arrays for every model input: from --input files (cast to the input's dtype) or random."""
    given: dict[str, str] = {}
    for item in files:
        name, sep, path = item.rpartition("=")
        if not sep:
            if len(specs) != 1:
                raise SystemExit(f"error: --input {item}: the model has inputs {sorted(specs)}, use NAME=FILE.npy")
            name = next(iter(specs))
        if name not in specs:
            raise SystemExit(f"error: --input {item}: the model has no input {name!r}; it has {sorted(specs)}")
        given[name] = path
    rng = np.random.default_rng(seed)
    inputs = {}
    for name, (dtype, shape) in specs.items():
        if name in given:
            inputs[name] = np.load(given[name]).astype(dtype, copy=False)
            continue
        dims = [batch_size if (i == 0 and d == -1) else d for i, d in enumerate(shape)]
        if -1 in dims:
            raise SystemExit(f"error: input {name} has dynamic dimensions {shape}: give its data with --input")
        if dtype.kind == "f":
            inputs[name] = rng.random(dims).astype(dtype)
        elif dtype.kind == "b":
            inputs[name] = rng.random(dims) > 0.5
        else:
            inputs[name] = rng.integers(0, 10, dims).astype(dtype)
    return inputs


def run_predict(args: argparse.Namespace, protocol: str, rest_format: str = "column") -> None:
    """Read the metadata, build the inputs, send --iterations requests, print shapes, top-k, latency."""
    client = Client(args, protocol)
    version, specs, outputs = client.metadata()
    print(f"model {args.model_name} version {version} over {protocol}")
    print(f"inputs: {format_signature(specs)}")
    print(f"outputs: {format_signature(outputs)}")
    inputs = build_inputs(specs, args.input, args.batch_size, args.seed)
    for name, array in inputs.items():
        print(f"input {name}: shape {list(array.shape)} dtype {array.dtype.name}")
    latencies = []
    for number in range(1, args.iterations + 1):
        with Timer() as timer:
            result = client.predict(inputs, rest_format)
        latencies.append(timer.ms)
        print(f"request {number}: {timer.ms:.2f} ms")
    print_outputs(result, args.top_k)
    print(
        f"latency over {len(latencies)} request(s): mean {np.mean(latencies):.2f} ms, "
        f"min {np.min(latencies):.2f} ms, max {np.max(latencies):.2f} ms"
    )
