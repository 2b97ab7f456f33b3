"""Write local_test/test_dir: a tiny OpenVINO model (version 1) and one sample payload per
content type. The committed files came from this script; run it again to regenerate them.

Model: input `x` float32 [-1, 4] -> output `y` = 2 * x + 1.
"""

from __future__ import annotations

import io
import json
import pathlib

import numpy as np
import openvino as ov
from openvino import opset13 as ops

TEST_DIR = pathlib.Path(__file__).resolve().parent / "test_dir"
X = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.0, 10.0]], dtype=np.float32)


def model() -> ov.Model:
    x = ops.parameter([-1, 4], np.float32, name="x")
    y = ops.add(ops.multiply(x, ops.constant(np.float32(2))), ops.constant(np.float32(1)))
    y.output(0).get_tensor().set_names({"y"})
    return ov.Model([y], [x], "two_x_plus_one")


def main() -> None:
    ov.save_model(model(), str(TEST_DIR / "1" / "model.xml"), compress_to_fp16=False)
    (TEST_DIR / "payload.json").write_text(json.dumps({"instances": X.tolist()}) + "\n")
    (TEST_DIR / "payload.jsonl").write_text("".join(json.dumps(row) + "\n" for row in X.tolist()))
    (TEST_DIR / "payload.csv").write_text("\n".join(",".join(str(v) for v in row) for row in X.tolist()) + "\n")
    for name, save in (("payload.npy", lambda f: np.save(f, X)), ("payload.npz", lambda f: np.savez(f, x=X))):
        buffer = io.BytesIO()
        save(buffer)
        (TEST_DIR / name).write_bytes(buffer.getvalue())


if __name__ == "__main__":
    main()
