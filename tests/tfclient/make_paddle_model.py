"""Runs in the PaddlePaddle environment: saves a small network with paddle.jit.save in the
legacy .pdmodel + .pdiparams format and records Paddle's own answer.

usage: make_paddle_model.py OUT_DIR   -> OUT_DIR/1/inference.pdmodel (+ .pdiparams), OUT_DIR/answer.npz
"""

import pathlib
import sys

import numpy as np
import paddle


class Classifier(paddle.nn.Layer):
    """Dense -> ReLU -> dense -> softmax over 8 features."""

    def __init__(self):
        super().__init__()
        self.hidden = paddle.nn.Linear(8, 16)
        self.out = paddle.nn.Linear(16, 3)

    def forward(self, x):
        return paddle.nn.functional.softmax(self.out(paddle.nn.functional.relu(self.hidden(x))))


def main(out: pathlib.Path) -> None:
    paddle.seed(0)
    net = Classifier()
    net.eval()
    spec = [paddle.static.InputSpec(shape=[None, 8], dtype="float32", name="x")]
    paddle.jit.save(net, str(out / "1" / "inference"), input_spec=spec)
    x = np.random.default_rng(0).random((2, 8), dtype=np.float32)
    np.savez(out / "answer.npz", x=x, y=net(paddle.to_tensor(x)).numpy())


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
