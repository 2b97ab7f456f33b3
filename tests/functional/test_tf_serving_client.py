"""The official TF Serving client (tensorflow-serving-api with TensorFlow's tensor helpers),
run in its own virtual environment so TensorFlow never enters the server or this process.

Outputs come in the typed value fields unless --enable_serialization_as_tensor_content, as
TF Serving writes them (tensorflow_serving/model_servers/server_core.h,
enable_serialization_as_tensor_content "for backward compatibility"; its example clients read
result.outputs[name].float_val, tensorflow_serving/example/resnet_client_grpc.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests import models
from tests.framework_envs import run_tf


@pytest.mark.parametrize("tensor_content", [False, True], ids=["typed-fields", "tensor-content"])
def test_official_client_predicts_reads_metadata_and_status(tmp_path, start_server, tensor_content):
    version_dir = models.save(models.multi_io_model(), tmp_path / "multi")
    flags = ["--enable_serialization_as_tensor_content"] if tensor_content else []
    server = start_server("--model_name", "multi", "--model_base_path", str(tmp_path / "multi"), *flags)
    rng = np.random.default_rng(7)
    inputs = {
        "a": rng.random((2, 3), dtype=np.float32),
        "b": rng.random((2, 3), dtype=np.float32),
        "c": np.array([3, -4], dtype=np.int64),
    }
    np.savez(tmp_path / "in.npz", **inputs)
    result = run_tf(
        "tf_serving_client.py", server.address, "multi", str(tmp_path / "in.npz"), str(tmp_path / "out.npz")
    )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    if tensor_content:
        assert answer["fields"] == {"c2": "tensor_content", "prod": "tensor_content", "sum": "tensor_content"}
        assert answer["float_val"] == {}
    else:
        assert answer["fields"] == {"c2": "int64_val", "prod": "float_val", "sum": "float_val"}
        expected_sum = models.direct_infer(version_dir / "model.xml", inputs)["sum"]
        assert answer["float_val"]["sum"] == expected_sum.ravel().tolist()
    assert answer["version"] == 1
    assert answer["inputs"] == {"a": ["float32", [-1, 3]], "b": ["float32", [-1, 3]], "c": ["int64", [2]]}
    assert answer["outputs"] == ["c2", "prod", "sum"]
    assert answer["status"] == [[1, "AVAILABLE"]]
    expected = models.direct_infer(version_dir / "model.xml", inputs)
    with np.load(tmp_path / "out.npz") as outputs:
        assert sorted(outputs.files) == ["c2", "prod", "sum"]
        for name in outputs.files:
            np.testing.assert_array_equal(outputs[name], expected[name])
