"""The benchmark models, built with OpenVINO's opset13 and random weights, saved as IR.

- tiny: input f32 [1, 256], three 256-wide dense layers and a 10-way softmax; inference takes
  microseconds, so the server's own overhead dominates.
- cnn: a ResNet-18-like network on f32 [1, 3, 224, 224] (about 3.6 GFLOPs), 1000-way softmax;
  inference dominates.
- batch: a small CNN on f32 [-1, 3, 64, 64] (dynamic batch) for the batch sweep.
- mlp: f32 [1, 1024] (a static batch of 1, as many exported models have) through four
  1024-wide dense ReLU layers and a 10-way softmax: matrix-heavy, the kind of model whose cost
  per row falls with the batch size (server-side batching, benchmarks/batching.py); wide_mlp:
  the same 2048 wide (64 MB of weights read per batch-1 inference).
"""

from __future__ import annotations

import pathlib

import numpy as np
import openvino as ov
from openvino import opset13 as ops

INPUT = "input"
OUTPUT = "probabilities"
SHAPES = {"tiny": (1, 256), "cnn": (1, 3, 224, 224), "batch": (-1, 3, 64, 64), "mlp": (1, 1024), "wide_mlp": (1, 2048)}


class _Builder:
    """Random He-initialised layers from one seeded generator."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def weights(self, shape: tuple[int, ...], fan_in: int) -> ov.Node:
        return ops.constant((self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32))

    def conv(self, x: ov.Node, cin: int, cout: int, kernel: int, stride: int = 1, relu: bool = True) -> ov.Node:
        pad = kernel // 2
        y = ops.convolution(
            x,
            self.weights((cout, cin, kernel, kernel), cin * kernel * kernel),
            [stride] * 2,
            [pad] * 2,
            [pad] * 2,
            [1, 1],
        )
        y = ops.add(y, ops.constant(np.zeros((1, cout, 1, 1), np.float32)))  # folded batch norm
        return ops.relu(y) if relu else y

    def dense(self, x: ov.Node, cin: int, cout: int) -> ov.Node:
        y = ops.matmul(x, self.weights((cin, cout), cin), False, False)
        return ops.add(y, ops.constant(np.zeros((cout,), np.float32)))

    def block(self, x: ov.Node, cin: int, cout: int, stride: int) -> ov.Node:
        """A ResNet basic block: two 3x3 convolutions and a (projected) shortcut."""
        y = self.conv(self.conv(x, cin, cout, 3, stride), cout, cout, 3, relu=False)
        shortcut = x if stride == 1 and cin == cout else self.conv(x, cin, cout, 1, stride, relu=False)
        return ops.relu(ops.add(y, shortcut))


def _finish(x: ov.Node, head: ov.Node, name: str) -> ov.Model:
    out = ops.softmax(head, 1)
    out.output(0).get_tensor().set_names({OUTPUT})
    return ov.Model([out], [x], name)


def tiny() -> ov.Model:
    build = _Builder(1)
    x = ops.parameter(list(SHAPES["tiny"]), np.float32, name=INPUT)
    y = x
    for _ in range(3):
        y = ops.relu(build.dense(y, 256, 256))
    return _finish(x, build.dense(y, 256, 10), "tiny")


def _pooled(x: ov.Node) -> ov.Node:
    return ops.reduce_mean(x, ops.constant(np.array([2, 3], np.int64)), keep_dims=False)


def cnn() -> ov.Model:
    """ResNet-18's layout: 7x7 stem, max pool, 4 stages of 2 basic blocks, 1000-way head."""
    build = _Builder(2)
    x = ops.parameter(list(SHAPES["cnn"]), np.float32, name=INPUT)
    y = build.conv(x, 3, 64, 7, 2)
    y = ops.max_pool(y, [2, 2], [1, 1], [1, 1], [1, 1], [3, 3]).output(0)
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        y = build.block(build.block(y, cin, cout, stride), cout, cout, 1)
        cin = cout
    return _finish(x, build.dense(_pooled(y), 512, 1000), "cnn")


def batch() -> ov.Model:
    build = _Builder(3)
    x = ops.parameter(list(SHAPES["batch"]), np.float32, name=INPUT)
    y = build.block(build.conv(x, 3, 32, 3, 2), 32, 64, 2)
    return _finish(x, build.dense(_pooled(y), 64, 10), "batch")


def mlp(name: str = "mlp", seed: int = 4) -> ov.Model:
    build = _Builder(seed)
    width = SHAPES[name][1]
    x = ops.parameter(list(SHAPES[name]), np.float32, name=INPUT)
    y = x
    for _ in range(4):
        y = ops.relu(build.dense(y, width, width))
    return _finish(x, build.dense(y, width, 10), name)


def wide_mlp() -> ov.Model:
    return mlp("wide_mlp", 5)


BUILDERS = {"tiny": tiny, "cnn": cnn, "batch": batch, "mlp": mlp, "wide_mlp": wide_mlp}


def write(name: str, root: pathlib.Path) -> pathlib.Path:
    """root/name/1/model.xml (+ .bin); returns the base path root/name."""
    target = root / name / "1" / "model.xml"
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(BUILDERS[name](), str(target), compress_to_fp16=False)
    return root / name


def sample(name: str, batch_size: int = 1, seed: int = 0) -> np.ndarray:
    """A random input for the model (batch_size fills a dynamic batch dimension)."""
    shape = tuple(batch_size if d == -1 else d for d in SHAPES[name])
    return np.random.default_rng(seed).random(shape, dtype=np.float32)
