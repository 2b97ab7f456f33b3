"""Start-up with and without OpenVINO's compiled-model cache (--compile_cache_dir): time from
process start to the first successful Predict, on a Keras MobileNetV2 SavedModel (made in
the test-only TensorFlow environment) and on the demo IR. usage: python -m benchmarks.compile_cache"""

from __future__ import annotations

import pathlib
import statistics
import tempfile
import time

import numpy as np

from ie_serving.demo import write_demo_model
from tests.framework_envs import run_tf
from tests.grpc_client import RawClient
from tests.server import ServerProcess


def time_to_first_predict(args: list[str], inputs: dict, name: str, log: pathlib.Path) -> float:
    started = time.perf_counter()
    server = ServerProcess(args, log, {"LOG_LEVEL": "INFO"}).wait_ready(timeout=300)
    client = RawClient(server.address)
    try:
        client.predict(name, inputs, timeout=120)
        return time.perf_counter() - started
    finally:
        client.close()
        server.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        run_tf("make_tf_models.py", str(root / "tf"))
        write_demo_model(root / "demo")
        cases = {
            "mobilenet": (root / "tf" / "mobilenet", {"image": np.ones((1, 224, 224, 3), np.float32)}),
            "demo": (root / "demo", {"input": np.ones((1, 3, 224, 224), np.float32)}),
        }
        for name, (base, inputs) in cases.items():
            args = ["model", "--model_name", name, "--model_path", str(base)]
            cold = [time_to_first_predict(args, inputs, name, root / "log") for _ in range(3)]
            cache = ["--compile_cache_dir", str(root / f"cache-{name}")]
            time_to_first_predict(args + cache, inputs, name, root / "log")  # fills the cache
            warm = [time_to_first_predict(args + cache, inputs, name, root / "log") for _ in range(3)]
            print(
                f"{name}: start-up to first Predict, median of 3: without cache {statistics.median(cold):.2f} s, "
                f"with --compile_cache_dir {statistics.median(warm):.2f} s"
            )


if __name__ == "__main__":
    main()
