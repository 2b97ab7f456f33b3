"""The one request pipeline (ie_serving/service.py): one lease per request, the leased
version's signatures handed to the front end's decoder, one validation, and one log line per
request with its true outcome and time. Versions here are stand-ins with a known answer
(unit tests compile nothing); tests/functional run the same pipeline on real models."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from ie_serving.errors import FailedPrecondition, InvalidInput, ServableNotFound
from ie_serving.service import Call, Service
from ie_serving.store import ModelStore, ServedModel, ServedVersion
from ie_serving.tensor_spec import Decoded
from ie_serving.versions import State
from tests.stub_versions import Scale, served, store_of


def _served(version: int, factor: float) -> ServedVersion:
    return served(version, Scale(factor))


@pytest.fixture
def model() -> ServedModel:
    return store_of("m", _served(1, 2.0)).models["m"]


def test_the_decoder_sees_the_leased_version_and_the_request_runs_on_it(model):
    service = Service(ModelStore((model,)))
    seen = []

    def decode(signature_of):
        seen.append(signature_of("").inputs["x"])
        model.versions = {**model.versions, 2: _served(2, 3.0)}  # a newer version arrives meanwhile
        return Decoded({"x": np.ones((1, 2), np.float32)})

    result = service.predict("m", None, decode)
    assert result.version == 1 and result.outputs["y"].tolist() == [[2.0, 2.0]]
    assert seen[0].shape == (-1, 2)
    assert model.versions[1]._inflight == 0  # the lease was given back
    assert service.predict("m", None, lambda _: Decoded({"x": np.ones((1, 2), np.float32)})).version == 2


def test_validation_runs_once_against_the_leased_signature(model):
    service = Service(ModelStore((model,)))
    with pytest.raises(InvalidInput, match=r"model m version 1: unknown input\(s\) \['z'\]; expected inputs: \['x'\]"):
        service.predict("m", None, lambda _: Decoded({"z": np.ones((1, 2), np.float32)}))
    with pytest.raises(InvalidInput, match=r"input 'x' expects shape \[-1, 2\].*got \[1, 3\]"):
        service.predict("m", None, lambda _: Decoded({"x": np.ones((1, 3), np.float32)}))
    with pytest.raises(InvalidInput, match=r"input 'x' expects dtype DT_FLOAT, got DT_INT64"):
        service.predict("m", None, lambda _: Decoded({"x": np.ones((1, 2), np.int64)}))
    with pytest.raises(InvalidInput, match=r"output_filter names unknown output\(s\) \['q'\]"):
        service.predict("m", None, lambda _: Decoded({"x": np.ones((1, 2), np.float32)}, output_filter=["q"]))
    with pytest.raises(FailedPrecondition, match='Serving signature key "serve" not found'):
        service.predict("m", None, lambda lookup: lookup("serve"))
    assert model.versions[1]._inflight == 0


def test_a_version_that_is_not_available_is_refused_before_decoding(model):
    model.versions[1].begin_unload()
    decoded = []
    with pytest.raises(ServableNotFound, match=r"^Servable not found for request: Specific\(m, 1\)$"):
        Service(ModelStore((model,))).predict("m", 1, decoded.append)
    assert decoded == []


def test_a_call_logs_one_line_with_its_true_outcome(caplog):
    caplog.set_level(logging.DEBUG, logger="ie_serving.service")
    with Call("rest", "Predict", "m") as call:
        call.version = 3
    with pytest.raises(InvalidInput), Call("grpc", "Predict", "m"):
        raise InvalidInput("bad")
    with pytest.raises(KeyError), Call("sagemaker", "Invocations", "m"):
        raise KeyError("bug")
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert [line.split(" time=")[0] for line in lines] == [
        "rest Predict model=m version=3 status=OK",
        "grpc Predict model=m version=latest status=INVALID_ARGUMENT",
        "sagemaker Invocations model=m version=latest status=INTERNAL",
    ]
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)  # the bug's traceback


def test_states_are_tf_servings():
    assert [int(s) for s in State] == [10, 20, 30, 40, 50]
