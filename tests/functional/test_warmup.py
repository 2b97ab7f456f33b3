"""SavedModel warmup as TF Serving runs it (servables/tensorflow/saved_model_warmup_util.cc,
saved_model_warmup.cc, g3doc/saved_model_warmup.md): the predict and classify/regress records
of assets.extra/tf_serving_warmup_requests,
written here by TensorFlow's own TFRecordWriter, are replayed before the version is AVAILABLE;
a record that fails fails the load, reported in GetModelStatus."""

from __future__ import annotations

import numpy as np
import pytest

from ie_serving.warmup import masked_crc32c, read_records
from tests.framework_envs import run_tf
from tests.grpc_client import RawClient


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    out = tmp_path_factory.mktemp("warmup")
    run_tf("warmup_models.py", str(out))
    return out


def test_records_written_by_tensorflow_are_read_with_their_checksums(saved_models, tmp_path):
    path = saved_models / "good" / "1" / "assets.extra" / "tf_serving_warmup_requests"
    assert len(list(read_records(path))) == 4
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF  # inside the first record's data
    (tmp_path / "corrupt").write_bytes(bytes(data))
    with pytest.raises(Exception, match="record 1 is corrupted .checksum mismatch."):
        list(read_records(tmp_path / "corrupt"))
    assert masked_crc32c(b"") == 0xA282EAD8  # CRC32C of nothing is 0; the mask adds the delta


def test_warmup_runs_before_the_version_serves_and_a_failing_record_fails_the_load(saved_models, start_server):
    good = start_server("--model_name", "good", "--model_base_path", str(saved_models / "good"))
    client = RawClient(good.address)
    assert client.status("good") == {1: ("AVAILABLE", 0, "")}
    assert "4 warmup inference(s)" in good.log()  # three predicts and a classify of two examples
    _, outputs = client.predict("good", {"x": np.ones((1, 4), np.float32)})
    np.testing.assert_array_equal(outputs["y"], np.full((1, 4), 2.0, np.float32))

    bad = start_server("--model_name", "bad", "--model_base_path", str(saved_models / "bad"))
    ((state, code, message),) = RawClient(bad.address).status("bad").values()
    assert (state, code) == ("END", 2)
    assert "tf_serving_warmup_requests: record 2 failed: warmup record 2: unknown input(s) ['nope']" in message

    # a regress record fails the load as in TF Serving (regressor.cc: its output must be [batch] or [batch, 1])
    regress = start_server("--model_name", "r", "--model_base_path", str(saved_models / "bad_regress"))
    ((state, code, message),) = RawClient(regress.address).status("r").values()
    assert (state, code) == ("END", 2)
    assert "record 1 failed: Expected output Tensor shape to be either [batch_size] or [batch_size, 1]" in message
