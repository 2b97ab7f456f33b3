"""The performance hint each version is compiled with: THROUGHPUT by default, LATENCY for a
model whose one inference is faster than FAST_INFERENCE_SECONDS, and whatever plugin_config
says when it says. Real OpenVINO compilation, no server."""

from __future__ import annotations

import logging
import os
import pathlib

import numpy as np
import pytest

from ie_serving.config import ModelConfig
from ie_serving.engine import load_version
from ie_serving.model_formats import detect
from tests.models import direct_infer, dynamic_model, save, scale_model, slow_model


def _load(model, tmp_path: pathlib.Path, **config):
    version_dir = save(model, tmp_path / "m")
    return version_dir, load_version(
        version_dir, detect(os.listdir(version_dir)), ModelConfig("m", str(tmp_path), **config)
    )


def test_a_tiny_model_is_compiled_for_latency_and_says_why(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ie_serving")
    version_dir, engine = _load(scale_model(3.0, [1, 4]), tmp_path)
    assert engine.hint == "LATENCY"
    assert "one inference takes" in caplog.text and "for LATENCY" in caplog.text
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    np.testing.assert_array_equal(
        engine.infer({"x": x}, ["y"])["y"], direct_infer(version_dir / "model.xml", {"x": x})["y"]
    )


def test_a_model_slower_than_the_threshold_keeps_throughput(tmp_path, caplog):
    """4 dense layers of 2048 x 2048 at batch 1: 64 MB of weights to read, about 2 ms here."""
    caplog.set_level(logging.INFO, logger="ie_serving")
    _, engine = _load(slow_model(layers=4, width=2048), tmp_path, shape=(1, 2048))
    assert engine.hint == "THROUGHPUT"
    assert "for LATENCY" not in caplog.text


@pytest.mark.parametrize("hint", ["THROUGHPUT", "LATENCY"])
def test_plugin_config_hint_is_kept(tmp_path, hint):
    _, engine = _load(scale_model(3.0, [1, 4]), tmp_path, plugin_config={"PERFORMANCE_HINT": hint})
    assert engine.hint == hint


def test_a_model_with_dynamic_inputs_is_not_timed_and_keeps_throughput(tmp_path):
    _, engine = _load(dynamic_model(), tmp_path)
    assert engine.hint == "THROUGHPUT"


def test_a_dynamic_batch_model_gets_a_static_batch_one_copy_that_answers_batch_one(tmp_path):
    """scale_model's x is [-1, 4]: batch 1 runs on the static copy, other batches on the dynamic model."""
    version_dir, engine = _load(scale_model(3.0), tmp_path)
    assert engine.batch_one_hint in ("THROUGHPUT", "LATENCY")
    assert engine.inputs["x"].shape == (-1, 4)  # clients still see the dynamic batch
    for batch in (1, 3, 1):
        x = np.arange(4 * batch, dtype=np.float32).reshape(batch, 4)
        want = direct_infer(version_dir / "model.xml", {"x": x})["y"]
        np.testing.assert_array_equal(engine.infer({"x": x}, ["y"])["y"], want)


def test_static_batch_one_false_compiles_only_the_dynamic_model(tmp_path):
    _, engine = _load(scale_model(3.0), tmp_path, static_batch_one=False)
    assert engine.batch_one_hint is None


@pytest.mark.parametrize(
    "model", [dynamic_model, lambda: scale_model(3.0, [1, 4])], ids=["other dims dynamic", "static"]
)
def test_no_batch_one_copy_unless_the_batch_is_the_only_dynamic_dimension(tmp_path, model):
    _, engine = _load(model(), tmp_path)
    assert engine.batch_one_hint is None


def test_a_version_that_batches_is_compiled_for_latency_unless_plugin_config_says(tmp_path, caplog):
    """compile_policy.for_batching: a batch is the parallel work, so one stream on every core
    (LATENCY) runs it, the dynamic model and its static copies alike, one batch at a time (its
    one infer request); a hint in plugin_config is kept. The slow model (2 ms per inference)
    would stay THROUGHPUT without batching."""
    from ie_serving.batching_config import BatchingParameters

    caplog.set_level(logging.INFO, logger="ie_serving")
    params = BatchingParameters(max_batch_size=4, allowed_batch_sizes=(2, 4), num_batch_threads=2)
    model = slow_model(layers=4, width=2048)
    version_dir, engine = _load(model, tmp_path / "a", batching=params)
    try:
        assert engine.hint == "LATENCY" and engine.batch_one_hint == "LATENCY"
        assert "compiled for PERFORMANCE_HINT=LATENCY as it batches" in caplog.text
        # LATENCY's one infer request: a second batch taken would only wait for it
        assert engine.nireq == 1
        assert "at most 1 batch(es) run at once: num_batch_threads 2, but the version has 1 infer" in caplog.text
        x = np.random.default_rng(3).random((1, 2048), dtype=np.float32)
        want = direct_infer(version_dir / "model.xml", {"x": x})
        np.testing.assert_allclose(engine.infer({"x": x}, ["y"])["y"], want["y"], rtol=1e-5, atol=1e-5)
    finally:
        engine.close()
    _, kept = _load(model, tmp_path / "b", plugin_config={"PERFORMANCE_HINT": "THROUGHPUT"}, batching=params)
    kept.close()
    assert kept.hint == "THROUGHPUT" and kept.batch_one_hint == "THROUGHPUT"
