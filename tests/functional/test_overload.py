"""Overload, deadlines and OpenVINO failures over gRPC: a full wait queue is refused with
RESOURCE_EXHAUSTED, a client's deadline ends the wait for an infer request, an exception
inside OpenVINO fails that request alone; the server keeps answering correctly."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import grpc
import numpy as np
import pytest

from tests import models
from tests.grpc_client import RawClient
from tests.rest_helpers import write_config


@pytest.fixture
def slow_server(tmp_path, start_server):
    models.save(models.slow_model(), tmp_path / "slow")
    models.save(models.pairs_model(), tmp_path / "pairs")
    config = write_config(
        tmp_path / "config.json",
        [
            {"name": "slow", "base_path": str(tmp_path / "slow"), "nireq": 1},
            {"name": "pairs", "base_path": str(tmp_path / "pairs")},
        ],
    )
    server = start_server("config", "--config_path", str(config), "--max_queued_requests", "1")
    client = RawClient(server.address)
    yield server, client
    client.close()


def _code(call) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.robustness(
    "overload: more parallel requests than infer requests plus wait queue",
    "RESOURCE_EXHAUSTED at once for the excess, correct answers for the rest",
)
def test_full_queue_is_refused_and_the_rest_answer_correctly(slow_server):
    server, client = slow_server
    x = np.random.default_rng(0).random((256, 1024), dtype=np.float32)
    expected = client.predict("slow", {"x": x})[1]["y"]

    def one(_):
        try:
            return client.predict("slow", {"x": x}, timeout=120)[1]["y"]
        except grpc.RpcError as exc:
            return exc

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(8)))
    refused = [a for a in answers if isinstance(a, grpc.RpcError)]
    served = [a for a in answers if not isinstance(a, grpc.RpcError)]
    assert refused and served
    assert {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert "all infer requests are busy and 1 requests already wait (--max_queued_requests 1)" in refused[0].details()
    for answer in served:
        np.testing.assert_array_equal(answer, expected)
    np.testing.assert_array_equal(client.predict("slow", {"x": x})[1]["y"], expected)


@pytest.mark.robustness(
    "a gRPC deadline shorter than the wait for an infer request",
    "DEADLINE_EXCEEDED; the wait ends at the deadline",
)
def test_deadline_ends_the_wait_for_an_infer_request(slow_server):
    server, client = slow_server
    x = np.ones((512, 1024), np.float32)  # long enough to hold the only infer request
    long_call = threading.Thread(target=lambda: client.predict("slow", {"x": x}, timeout=120))
    long_call.start()
    time.sleep(0.05)
    try:
        codes = [_code(lambda: client.predict("slow", {"x": x}, timeout=0.05)) for _ in range(3)]
    finally:
        long_call.join()
    assert grpc.StatusCode.DEADLINE_EXCEEDED in codes
    assert "grpc Predict model=slow version=latest status=DEADLINE_EXCEEDED" in server.log()


@pytest.mark.robustness(
    "an exception inside OpenVINO during inference",
    "INTERNAL for that request only; the next request answers correctly",
)
def test_openvino_exception_fails_one_request(slow_server):
    _, client = slow_server
    with pytest.raises(grpc.RpcError) as info:
        client.predict("pairs", {"x": np.ones(3, np.float32)})
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert info.value.details().startswith("OpenVINO inference failed: ")
    _, outputs = client.predict("pairs", {"x": np.arange(4, dtype=np.float32)})
    assert outputs["y"].tolist() == [[0.0, 1.0], [2.0, 3.0]]
