"""Write a small demo classifier as OpenVINO IR, so a new user can try the server without
downloading anything: `python -m ie_serving.demo DIR` creates DIR/1/model.xml + .bin."""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import openvino as ov
from openvino import opset13 as ops


def build_demo_model(num_classes: int = 10, seed: int = 0) -> ov.Model:
    """input [-1,3,224,224] f32 -> conv 3x3 -> relu -> global average pool -> dense -> softmax."""
    rng = np.random.default_rng(seed)
    image = ops.parameter([-1, 3, 224, 224], np.float32, name="input")
    kernel = ops.constant(rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.2)
    features = ops.relu(ops.convolution(image, kernel, [2, 2], [1, 1], [1, 1], [1, 1]))
    pooled = ops.reduce_mean(features, ops.constant(np.array([2, 3], dtype=np.int64)), keep_dims=False)
    weights = ops.constant(rng.standard_normal((8, num_classes)).astype(np.float32))
    logits = ops.matmul(pooled, weights, False, False)
    probabilities = ops.softmax(logits, 1)
    probabilities.output(0).get_tensor().set_names({"probabilities"})
    return ov.Model([probabilities], [image], "demo_classifier")


def write_demo_model(base_path: pathlib.Path, version: int = 1) -> pathlib.Path:
    """Save the demo model as base_path/<version>/model.xml (+ .bin); return the xml path."""
    target = base_path / str(version) / "model.xml"
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(build_demo_model(), str(target), compress_to_fp16=False)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base_path", type=pathlib.Path, help="model base path to create (version 1 inside)")
    args = parser.parse_args()
    print(f"wrote {write_demo_model(args.base_path)}")


if __name__ == "__main__":
    main()
