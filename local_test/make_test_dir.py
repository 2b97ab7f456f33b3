"""Write local_test/test_dir, a tiny OpenVINO model (version 1 and nothing else, so the server
has nothing to ignore), and local_test/payloads, one sample request body per content type
for local_test/predict.sh. The committed files came from this script; run it again to
regenerate them (`--out DIR` writes DIR/test_dir and DIR/payloads instead).

Model: input `x` float32 [-1, 4] -> output `y` = 2 * x + 1.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib

import numpy as np
import openvino as ov
from openvino import opset13 as ops

HERE = pathlib.Path(__file__).resolve().parent
X = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.0, 10.0]], dtype=np.float32)


def model() -> ov.Model:
    x = ops.parameter([-1, 4], np.float32, name="x")
    y = ops.add(ops.multiply(x, ops.constant(np.float32(2))), ops.constant(np.float32(1)))
    y.output(0).get_tensor().set_names({"y"})
    return ov.Model([y], [x], "two_x_plus_one")


def payloads() -> dict[str, bytes]:
    """payload.<ext> -> its bytes: X as TF Serving JSON, JSON lines, CSV, .npy and .npz."""
    files = {
        "payload.json": (json.dumps({"instances": X.tolist()}) + "\n").encode(),
        "payload.jsonl": "".join(json.dumps(row) + "\n" for row in X.tolist()).encode(),
        "payload.csv": ("\n".join(",".join(str(v) for v in row) for row in X.tolist()) + "\n").encode(),
    }
    for name, save in (("payload.npy", lambda f: np.save(f, X)), ("payload.npz", lambda f: np.savez(f, x=X))):
        buffer = io.BytesIO()
        save(buffer)
        files[name] = buffer.getvalue()
    return files


def write(out: pathlib.Path) -> None:
    """out/test_dir/1/model.xml + .bin and out/payloads/payload.*."""
    (out / "test_dir" / "1").mkdir(parents=True, exist_ok=True)
    ov.save_model(model(), str(out / "test_dir" / "1" / "model.xml"), compress_to_fp16=False)
    (out / "payloads").mkdir(exist_ok=True)
    for name, data in payloads().items():
        (out / "payloads" / name).write_bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, default=HERE, help="where to write (default: %(default)s)")
    write(parser.parse_args().out)


if __name__ == "__main__":
    main()
