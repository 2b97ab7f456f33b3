"""A real pretrained model: Silero VAD, shipped as ONNX inside the silero-vad wheel,
converted to IR with openvino.convert_model at set-up. It has a scalar int64 input and
dynamic dimensions; the server's answers must equal OpenVINO's direct result."""

from __future__ import annotations

import numpy as np
import openvino as ov
import ovmsclient
import pytest

from tests import models
from tests.grpc_client import RawClient


@pytest.fixture(scope="module")
def silero_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("silero") / "vad"
    target = base / "1" / "model.xml"
    target.parent.mkdir(parents=True)
    ov.save_model(models.silero_vad_model(), str(target), compress_to_fp16=False)
    return base


def test_silero_vad_matches_openvino(silero_dir, start_server):
    server = start_server("model", "--model_name", "vad", "--model_path", str(silero_dir))
    metadata = ovmsclient.make_grpc_client(server.address).get_model_metadata("vad")
    assert metadata["inputs"]["sr"] == {"shape": [], "dtype": "DT_INT64"}
    assert metadata["inputs"]["state"]["shape"] == [2, -1, 128]
    rng = np.random.default_rng(11)
    t = np.arange(512, dtype=np.float32) / 16000
    speech_like = (0.5 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(512)).astype(np.float32)
    state = np.zeros((2, 1, 128), np.float32)
    client = RawClient(server.address)
    try:
        for chunk in (speech_like, rng.standard_normal(512).astype(np.float32) * 0.01):
            inputs = {"input": chunk[None, :], "state": state, "sr": np.array(16000, dtype=np.int64)}
            _, outputs = client.predict("vad", inputs)
            expected = models.direct_infer(silero_dir / "1" / "model.xml", inputs)
            assert outputs["output"].shape == (1, 1)
            np.testing.assert_array_equal(outputs["output"], expected["output"])
            np.testing.assert_array_equal(outputs["stateN"], expected["stateN"])
            state = outputs["stateN"]
    finally:
        client.close()
