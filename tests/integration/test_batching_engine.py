"""What batching compiles and how a version answers through its batcher: a static batch made
dynamic, static copies for the allowed batch sizes (padded batches run on them), a model that
cannot batch served without it, a version's batching_params.pbtxt with
--enable_per_model_batching_parameters (TF Serving's bundle_factory_util.cc
GetPerModelBatchingParams). Real OpenVINO compilation, no server."""

from __future__ import annotations

import logging
import os
import pathlib
import threading

import numpy as np
import pytest

from ie_serving.batching_config import BatchingParameters
from ie_serving.config import ModelConfig
from ie_serving.engine import EngineOptions, load_version
from ie_serving.errors import InvalidInput, ModelLoadError
from tests.models import direct_infer, mlp_model, multi_io_model, save, slow_model


def _load(model, tmp_path: pathlib.Path, options: EngineOptions, **config):
    version_dir = save(model, tmp_path / "m")
    from ie_serving.model_formats import detect

    files = detect(os.listdir(version_dir))
    return version_dir, load_version(version_dir, files, ModelConfig("m", str(tmp_path), **config), options)


def _concurrently(engine, inputs: list[np.ndarray]) -> list[np.ndarray]:
    answers: list[np.ndarray] = [np.empty(0)] * len(inputs)

    def one(index: int) -> None:
        answers[index] = engine.infer({"x": inputs[index]}, ["y"])["y"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_allowed_batch_sizes_get_static_copies_and_padded_batches_answer_right(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ie_serving")
    params = BatchingParameters(max_batch_size=4, batch_timeout_micros=50_000, allowed_batch_sizes=(2, 4))
    version_dir, engine = _load(mlp_model(), tmp_path, EngineOptions(batching=params))
    try:
        assert engine.inputs["x"].shape == (-1, 32)
        assert "compiled with a dynamic batch dimension: x [1,32] -> [?,32]" in caplog.text
        assert "compiled static copies for batch sizes [1, 2, 4] (allowed_batch_sizes)" in caplog.text
        inputs = [np.random.default_rng(i).standard_normal((1, 32)).astype(np.float32) for i in range(7)]
        answers = _concurrently(engine, inputs)
        for x, answer in zip(inputs, answers, strict=True):
            want = direct_infer(version_dir / "model.xml", {"x": x})["y"]
            np.testing.assert_allclose(answer, want, rtol=1e-5, atol=1e-4)
        stats = engine.batch_stats()
        assert stats is not None and stats.input_batch_size.total == 7
        assert stats.processed_batch_size.total in (8, 10, 12)  # batches padded to 2 or 4 rows
        assert engine.pool_stats().size > engine.nireq  # the static copies' infer requests
    finally:
        engine.close()


def test_a_shape_with_a_static_batch_on_a_dynamic_model_keeps_the_batch_dynamic(tmp_path, caplog):
    """slow_model's x is [-1, 2048]; `shape` (1, 2048) would make it static, but batching keeps
    dimension 0 dynamic (and compiles the static copies): batches of 3 rows are answered."""
    caplog.set_level(logging.INFO, logger="ie_serving")
    params = BatchingParameters(max_batch_size=4, batch_timeout_micros=50_000, allowed_batch_sizes=(2, 4))
    version_dir, engine = _load(
        slow_model(layers=2, width=2048), tmp_path, EngineOptions(batching=params), shape=(1, 2048)
    )
    try:
        assert engine.inputs["x"].shape == (-1, 2048)
        assert "compiled with a dynamic batch dimension: x [1,2048] -> [?,2048]" in caplog.text
        assert "compiled static copies for batch sizes [1, 2, 4] (allowed_batch_sizes)" in caplog.text
        x = np.random.default_rng(5).random((3, 2048), dtype=np.float32)
        want = direct_infer(version_dir / "model.xml", {"x": x})["y"]
        np.testing.assert_allclose(engine.infer({"x": x}, ["y"])["y"], want, rtol=1e-4, atol=1e-4)
    finally:
        engine.close()


def test_a_model_without_a_batch_dimension_is_served_without_batching(tmp_path, caplog):
    """multi_io's c is [2]: its first dimension is not a batch, so batching stays off."""
    caplog.set_level(logging.WARNING, logger="ie_serving")
    _, engine = _load(multi_io_model(), tmp_path, EngineOptions(batching=BatchingParameters()), shape={"c": (2,)})
    assert engine.batch_stats() is None
    assert "batching is off for this version" in caplog.text


def test_an_explicit_static_batch_size_keeps_batching_off(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="ie_serving")
    _, engine = _load(mlp_model(), tmp_path, EngineOptions(batching=BatchingParameters()), batch_size=1)
    assert engine.batch_stats() is None
    assert "batch_size 1 asks for a static batch" in caplog.text


def test_per_model_batching_parameters_file(tmp_path, caplog):
    """With --enable_per_model_batching_parameters a version batches with its own file (its
    load log line, its thread pool name in the metrics' batch stats, its max_batch_size refusing
    a larger request); a version without one is not batched; a bad file fails the load naming
    the file."""
    caplog.set_level(logging.INFO, logger="ie_serving")
    options = EngineOptions(batching=BatchingParameters(), per_model_batching=True)
    _, plain = _load(mlp_model(), tmp_path / "a", options)
    assert plain.batch_stats() is None
    version_dir = save(mlp_model(), tmp_path / "b" / "m")
    (version_dir / "batching_params.pbtxt").write_text(
        'max_batch_size { value: 4 }\nbatch_timeout_micros { value: 7 }\nthread_pool_name { value: "own" }\n'
    )
    from ie_serving.model_formats import detect

    files = detect(os.listdir(version_dir))
    engine = load_version(version_dir, files, ModelConfig("m", str(tmp_path / "b")), options)
    try:
        assert "batching on (max_batch_size 4, batch_timeout_micros 7," in caplog.text
        stats = engine.batch_stats()
        assert stats is not None and stats.thread_pool_name == "own"
        with pytest.raises(InvalidInput, match="Task size 5 is larger than maximum input batch size 4"):
            engine.infer({"x": np.ones((5, 32), np.float32)}, ["y"])
    finally:
        engine.close()
    (version_dir / "batching_params.pbtxt").write_text("max_batch_size { value: zero }\n")
    with pytest.raises(ModelLoadError, match="batching_params.pbtxt"):
        load_version(version_dir, files, ModelConfig("m", str(tmp_path / "b")), options)
