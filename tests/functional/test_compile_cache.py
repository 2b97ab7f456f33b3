"""--compile_cache_dir: OpenVINO writes the compiled model on the first start and a restart
answers the same from the cache."""

from __future__ import annotations

import numpy as np

from ie_serving.demo import write_demo_model
from tests.grpc_client import RawClient


def _predict(server, x):
    client = RawClient(server.address)
    try:
        return client.predict("demo", {"input": x})[1]["probabilities"]
    finally:
        client.close()


def test_compiled_model_cache_is_written_and_reused(tmp_path, start_server):
    write_demo_model(tmp_path / "demo")
    cache = tmp_path / "compiled"
    args = ["model", "--model_name", "demo", "--model_path", str(tmp_path / "demo"), "--compile_cache_dir", str(cache)]
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    first = start_server(*args)
    before = _predict(first, x)
    assert first.stop() == 0
    blobs = sorted(p.name for p in cache.iterdir())
    assert blobs and all(name.endswith(".blob") for name in blobs), blobs
    second = start_server(*args)
    np.testing.assert_array_equal(_predict(second, x), before)
    assert sorted(p.name for p in cache.iterdir()) == blobs  # reused, not compiled again
