"""Models for the tests, made with OpenVINO's Python API and saved as IR; plus the real
pretrained Silero VAD model that the silero-vad wheel ships, converted at set-up."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import openvino as ov
from openvino import opset13 as ops

from ie_serving.compile_policy import CPU_DEFAULTS
from ie_serving.dtypes import BFLOAT16

REPO = pathlib.Path(__file__).resolve().parent.parent


def save(model: ov.Model, base_path: pathlib.Path, version: int = 1) -> pathlib.Path:
    """Write model as base_path/<version>/model.xml + model.bin (float32 weights kept)."""
    target = base_path / str(version) / "model.xml"
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(target), compress_to_fp16=False)
    return target.parent


def _named(node: ov.Node, name: str) -> ov.Node:
    node.output(0).get_tensor().set_names({name})
    return node


def scale_model(factor: float = 2.0, shape: list[int] | None = None) -> ov.Model:
    """x f32 [shape] -> y = x * factor; the factor tells versions apart."""
    x = ops.parameter(shape or [-1, 4], np.float32, name="x")
    return ov.Model([_named(ops.multiply(x, ops.constant(np.float32(factor))), "y")], [x], f"scale{factor}")


def dtype_model(dtype: np.dtype) -> ov.Model:
    """x of dtype [-1, 3] -> y of the same dtype: x + 1 for numbers, not x for bool."""
    ov_type = ov.Type.boolean if dtype == np.bool_ else ov.Type.bf16 if dtype == BFLOAT16 else ov.Type(np.dtype(dtype))
    x = ops.parameter([-1, 3], ov_type, name="x")
    one = ops.convert(ops.constant(np.float32(1)), ov_type)
    y = ops.logical_not(x) if dtype == np.bool_ else ops.add(x, one)
    return ov.Model([_named(y, "y")], [x], f"plus_one_{np.dtype(dtype).name}")


def multi_io_model() -> ov.Model:
    """a, b f32 [-1, 3] and c i64 [2] -> sum = a + b, prod = a * b, c2 = c * 2."""
    a = ops.parameter([-1, 3], np.float32, name="a")
    b = ops.parameter([-1, 3], np.float32, name="b")
    c = ops.parameter([2], np.int64, name="c")
    outputs = [
        _named(ops.add(a, b), "sum"),
        _named(ops.multiply(a, b), "prod"),
        _named(ops.multiply(c, ops.constant(np.int64(2))), "c2"),
    ]
    return ov.Model(outputs, [a, b, c], "multi_io")


def dynamic_model() -> ov.Model:
    """x f32 [-1, -1] -> row sums [-1] and x squared [-1, -1]."""
    x = ops.parameter([-1, -1], np.float32, name="x")
    axis = ops.constant(np.array([1], dtype=np.int64))
    return ov.Model(
        [_named(ops.reduce_sum(x, axis, keep_dims=False), "row_sum"), _named(ops.multiply(x, x), "square")],
        [x],
        "dynamic",
    )


def silero_vad_onnx() -> pathlib.Path:
    """The ONNX Silero VAD model inside the silero-vad wheel (installed without torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("silero-vad is not installed; `make test` installs it with --no-deps")
    return pathlib.Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad_op18_ifless.onnx"


def silero_vad_model() -> ov.Model:
    """Silero VAD converted to OpenVINO: input f32 [?, ?], state f32 [2, ?, 128], sr i64 scalar."""
    return ov.convert_model(str(silero_vad_onnx()))


def direct_infer(model_xml: pathlib.Path, inputs: dict[str, np.ndarray], properties: dict | None = None) -> dict:
    """OpenVINO's own result for the same IR and input, with the server's default properties
    (bfloat16 arrays, as ml_dtypes carries them, go in and come out as bf16 tensors)."""
    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(model_xml)), "CPU", properties or dict(CPU_DEFAULTS))
    request = compiled.create_infer_request()
    request.infer({name: _bf16_tensor(array) if array.dtype == BFLOAT16 else array for name, array in inputs.items()})
    outputs = {}
    for port in compiled.outputs:
        tensor = request.get_tensor(port)
        bf16 = tensor.element_type == ov.Type.bf16
        outputs[port.get_any_name()] = tensor.data.view(np.uint16).view(BFLOAT16).copy() if bf16 else tensor.data.copy()
    return outputs


def _bf16_tensor(array: np.ndarray) -> ov.Tensor:
    tensor = ov.Tensor(ov.Type.bf16, list(array.shape))
    tensor.data.view(np.uint16)[...] = array.view(np.uint16)
    return tensor


def tensor_proto(dims, dtype: int = 1, **fields):
    """A raw tensorflow.TensorProto (dtype 1 = DT_FLOAT) with the given dims and value fields."""
    from ie_serving.protos.tensorflow.core.framework import tensor_pb2

    proto = tensor_pb2.TensorProto(dtype=dtype, **fields)
    for dim in dims:
        proto.tensor_shape.dim.add(size=dim)
    return proto


def slow_model(layers: int = 30, width: int = 1024) -> ov.Model:
    """x f32 [-1, width] through `layers` dense layers: long enough inference to fill a pool."""
    rng = np.random.default_rng(0)
    x = ops.parameter([-1, width], np.float32, name="x")
    y = x
    for _ in range(layers):
        y = ops.matmul(y, ops.constant(rng.standard_normal((width, width)).astype(np.float32) / width), False, False)
    return ov.Model([_named(y, "y")], [x], "slow")


def pairs_model() -> ov.Model:
    """x f32 [-1] reshaped to [2, -1]: an odd number of values fails inside OpenVINO."""
    x = ops.parameter([-1], np.float32, name="x")
    y = ops.reshape(x, ops.constant(np.array([2, -1], dtype=np.int64)), special_zero=False)
    return ov.Model([_named(y, "y")], [x], "pairs")


def classifier_model() -> ov.Model:
    """Inputs named like tf.Example features, x f32 [-1, 3] and bias i64 [-1, 1] -> the top
    3 classes of softmax(x * [1, 2, 3] + bias): scores f32 [-1, 3] and classes i64 [-1, 3]."""
    x = ops.parameter([-1, 3], np.float32, name="x")
    bias = ops.parameter([-1, 1], np.int64, name="bias")
    logits = ops.add(ops.multiply(x, ops.constant(np.array([1, 2, 3], dtype=np.float32))), ops.convert(bias, "f32"))
    top = ops.topk(ops.softmax(logits, 1), ops.constant(np.int64(3)), 1, "max", "value", "i64")
    top.output(0).get_tensor().set_names({"scores"})
    top.output(1).get_tensor().set_names({"classes"})
    return ov.Model([top.output(0), top.output(1)], [x, bias], "classifier")


def regressor_model() -> ov.Model:
    """x f32 [-1, 2] -> outputs f32 [-1, 1] = x . [1.5, -2] + 0.5, the regression of each example."""
    x = ops.parameter([-1, 2], np.float32, name="x")
    weights = ops.constant(np.array([[1.5], [-2.0]], dtype=np.float32))
    y = ops.add(ops.matmul(x, weights, False, False), ops.constant(np.float32(0.5)))
    return ov.Model([_named(y, "outputs")], [x], "regressor")


def mlp_model(batch: int = 1, width: int = 32, hidden: int = 64, classes: int = 8) -> ov.Model:
    """x f32 [batch, width] (a static batch, as many exported models have) through a ReLU layer
    to logits y [batch, classes]: each row's answer depends on that row only."""
    rng = np.random.default_rng(1)
    x = ops.parameter([batch, width], np.float32, name="x")
    hidden_layer = ops.relu(
        ops.matmul(x, ops.constant(rng.standard_normal((width, hidden)).astype(np.float32)), False, False)
    )
    y = ops.matmul(hidden_layer, ops.constant(rng.standard_normal((hidden, classes)).astype(np.float32)), False, False)
    return ov.Model([_named(y, "y")], [x], "mlp")


def image_model(shape: tuple[int, ...] = (-1, 16, 16, 3), name: str = "image") -> ov.Model:
    """An image classifier's shape: image f32 NHWC [shape] (or NCHW when shape[1] == 3) -> a
    3x3 convolution to 4 channels, ReLU, global mean -> scores f32 [N, 4]. Every pixel counts."""
    x = ops.parameter(list(shape), np.float32, name=name)
    nchw = x if shape[1] == 3 else ops.transpose(x, ops.constant(np.array([0, 3, 1, 2], np.int64)))
    weights = np.random.default_rng(18).standard_normal((4, 3, 3, 3)).astype(np.float32) / 100
    y = ops.relu(ops.convolution(nchw, ops.constant(weights), [1, 1], [1, 1], [1, 1], [1, 1]))
    scores = ops.reduce_mean(y, ops.constant(np.array([2, 3], np.int64)), keep_dims=False)
    return ov.Model([_named(scores, "scores")], [x], "image")


def strings_model() -> ov.Model:
    """text string [-1] -> echo and echo_bytes, the strings as they came (TF Serving writes an
    output named *_bytes as {"b64": ...} in JSON)."""
    text = ops.parameter([-1], ov.Type.string, name="text")
    flat = ops.constant(np.array([-1], np.int64))
    outputs = [
        _named(ops.reshape(text, flat, False), "echo"),
        _named(ops.reshape(text, flat, False), "echo_bytes"),
    ]
    return ov.Model(outputs, [text], "strings")
