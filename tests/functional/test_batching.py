"""Server-side batching on real servers: many concurrent clients with distinct inputs each get
their own answer (equal to OpenVINO's on that input alone) over gRPC with the official
tensorflow-serving-api client, REST, SageMaker's /invocations and KServe v2 REST; mixed shapes and output
filters; a client deadline and overload; a version swap while batches are queued.

References: tensorflow/serving model_servers/server.cc and main.cc (--enable_batching,
--batching_parameters_file), servables/tensorflow/session_bundle_config.proto
(BatchingParameters), batching/batching_session.cc (merge and split along dim 0, the metrics);
aws/sagemaker-tensorflow-serving-container docker/build_artifacts/sagemaker/serve.py and
tfs_utils.py (SAGEMAKER_TFS_ENABLE_BATCHING must be true or false, the batching variables and
their defaults)."""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import openvino as ov
import pytest
import requests

from ie_serving.compile_policy import CPU_DEFAULTS
from tests import models
from tests.framework_envs import run_tf
from tests.grpc_client import RawClient
from tests.rest_helpers import metrics_flags, processed_batch_counts, write_config
from tests.sagemaker_helpers import ServeProcess


class OpenVino:
    """OpenVINO's own answer for one IR, compiled once with the server's CPU defaults."""

    def __init__(self, model_xml: pathlib.Path):
        core = ov.Core()
        self.request = core.compile_model(
            core.read_model(str(model_xml)), "CPU", dict(CPU_DEFAULTS)
        ).create_infer_request()

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = self.request.infer(inputs)
        return {port.get_any_name(): np.array(value) for port, value in result.items()}


def _distinct_inputs(count: int, width: int = 32, rows: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal((rows, width)).astype(np.float32) + i for i in range(count)]


@pytest.fixture
def batching_server(tmp_path, start_server):
    """mlp (a static batch of 1, made dynamic by batching) and dynamic ([-1, -1], two outputs),
    both batching up to 8 rows within 20 ms; REST and metrics on."""
    mlp = models.save(models.mlp_model(), tmp_path / "mlp") / "model.xml"
    dynamic = models.save(models.dynamic_model(), tmp_path / "dynamic") / "model.xml"
    batching = {"max_batch_size": 8, "batch_timeout_micros": 20000}
    config = write_config(
        tmp_path / "config.json",
        [
            {"name": "mlp", "base_path": str(mlp.parent.parent), "batching": batching},
            {"name": "dynamic", "base_path": str(dynamic.parent.parent), "batching": batching},
        ],
    )
    metrics, rest_port = metrics_flags(tmp_path)
    server = start_server("config", "--config_path", str(config), *metrics)
    return server, rest_port, OpenVino(mlp), OpenVino(dynamic)


def test_concurrent_grpc_clients_each_get_their_own_answer(batching_server, tmp_path):
    """48 requests from 16 threads of the official client: every answer is OpenVINO's on that
    request's input alone, and the server ran fewer batches than requests (they were merged)."""
    server, rest_port, mlp, _ = batching_server
    inputs = _distinct_inputs(48)
    np.savez(tmp_path / "in.npz", **{f"x{i}": x for i, x in enumerate(inputs)})
    run_tf(
        "concurrent_client.py", server.address, "mlp", "y", str(tmp_path / "in.npz"), str(tmp_path / "out.npz"), "16"
    )
    with np.load(tmp_path / "out.npz") as answers:
        for i, x in enumerate(inputs):
            np.testing.assert_allclose(answers[f"y{i}"], mlp({"x": x})["y"], rtol=1e-5, atol=1e-4)
    counts = processed_batch_counts(rest_port)
    assert counts["sum"] == 48  # every row ran once, no padding without allowed_batch_sizes
    assert counts["count"] < 48, counts  # merged: fewer batches than requests
    log = server.log()
    assert "model mlp version 1: batching on (max_batch_size 8, batch_timeout_micros 20000" in log
    assert "compiled with a dynamic batch dimension: x [1,32] -> [?,32]" in log


def test_concurrent_rest_clients_with_mixed_shapes_and_output_filters(batching_server):
    """REST requests of several widths to a [-1, -1] model, and gRPC requests asking for
    different outputs: those that cannot merge form their own batches; every answer is right."""
    server, rest_port, _, dynamic = batching_server
    rng = np.random.default_rng(3)
    widths = [3, 5, 3, 7, 5, 3, 2, 7] * 4
    inputs = [rng.standard_normal((2, w)).astype(np.float32) for w in widths]

    def rest(x: np.ndarray) -> dict:
        response = requests.post(
            f"http://127.0.0.1:{rest_port}/v1/models/dynamic:predict", json={"inputs": x.tolist()}, timeout=60
        )
        assert response.status_code == 200, response.text
        return response.json()["outputs"]

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(rest, inputs))
    for x, answer in zip(inputs, answers, strict=True):
        expected = dynamic({"x": x})
        np.testing.assert_allclose(np.array(answer["row_sum"], np.float32), expected["row_sum"], rtol=1e-5)
        np.testing.assert_allclose(np.array(answer["square"], np.float32), expected["square"], rtol=1e-5)

    client = RawClient(server.address)
    filters = [("row_sum",), ("square",), ("row_sum", "square")] * 8

    def grpc_call(index: int) -> dict[str, np.ndarray]:
        return client.predict("dynamic", {"x": inputs[index]}, output_filter=filters[index])[1]

    try:
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            outputs = list(pool.map(grpc_call, range(len(filters))))
    finally:
        client.close()
    for index, got in enumerate(outputs):
        expected = dynamic({"x": inputs[index]})
        assert sorted(got) == sorted(filters[index])
        for name in got:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-5)


@pytest.fixture
def slow_batching_server(tmp_path, start_server):
    """tensorflow_model_server's flags: a slow model, batches of up to 2 requests (512 rows), one
    batch thread and one batch allowed to wait."""
    xml = models.save(models.slow_model(), tmp_path / "slow") / "model.xml"
    parameters = tmp_path / "batching.config"
    parameters.write_text(
        "max_batch_size { value: 512 }\nbatch_timeout_micros { value: 0 }\n"
        "max_enqueued_batches { value: 1 }\nnum_batch_threads { value: 1 }\n"
    )
    server = start_server(
        f"--model_base_path={xml.parent.parent}",
        "--model_name=slow",
        "--enable_batching",
        f"--batching_parameters_file={parameters}",
    )
    client = RawClient(server.address)
    yield server, client, OpenVino(xml)
    client.close()


@pytest.mark.robustness(
    "batching: more concurrent requests than the batching queue holds",
    "RESOURCE_EXHAUSTED at once for the excess with TF Serving's words, correct answers for the rest",
)
def test_a_full_batching_queue_is_refused_and_the_rest_answer_correctly(slow_batching_server):
    server, client, slow = slow_batching_server
    x = np.random.default_rng(0).random((256, 1024), dtype=np.float32)
    expected = slow({"x": x})["y"]

    def one(_):
        try:
            return client.predict("slow", {"x": x}, timeout=120)[1]["y"]
        except grpc.RpcError as exc:
            return exc

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(one, range(10)))
    refused = [a for a in answers if isinstance(a, grpc.RpcError)]
    served = [a for a in answers if not isinstance(a, grpc.RpcError)]
    assert refused and len(served) >= 2, [type(a) for a in answers]
    assert {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert "The batch scheduling queue to which this task was submitted is full" in refused[0].details()
    for answer in served:
        np.testing.assert_allclose(answer, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(client.predict("slow", {"x": x})[1]["y"], expected, rtol=1e-4, atol=1e-5)
    assert "model_server_batch_threads" not in server.log()  # the file's parameters, not the defaults


@pytest.mark.robustness(
    "batching: a gRPC deadline shorter than the wait in the batching queue",
    "DEADLINE_EXCEEDED; the request leaves the queue and the others are answered",
)
def test_a_deadline_passing_in_the_batching_queue(slow_batching_server):
    server, client, slow = slow_batching_server
    x = np.ones((512, 1024), np.float32)  # a full batch: holds the only batch thread
    long_call = threading.Thread(target=lambda: client.predict("slow", {"x": x}, timeout=120))
    long_call.start()
    time.sleep(0.05)
    try:
        codes = []
        for _ in range(3):
            try:
                client.predict("slow", {"x": x[:1]}, timeout=0.05)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())
    finally:
        long_call.join()
    assert grpc.StatusCode.DEADLINE_EXCEEDED in codes
    assert "grpc Predict model=slow version=latest status=DEADLINE_EXCEEDED" in server.log()
    np.testing.assert_allclose(client.predict("slow", {"x": x[:3]})[1]["y"], slow({"x": x[:3]})["y"], rtol=1e-4)


def _publish(base: pathlib.Path, version: int, factor: float, staging: pathlib.Path) -> None:
    ready = models.save(models.scale_model(factor), staging / f"v{version}", 1)
    ready.rename(base / str(version))


@pytest.mark.robustness(
    "batching: a new version replaces the served one while batches are queued",
    "zero failed and zero wrong answers",
)
def test_a_version_swap_while_batches_are_queued_fails_no_request(tmp_path, start_server):
    base, staging = tmp_path / "scale", tmp_path / "staging"
    base.mkdir()
    _publish(base, 1, 2.0, staging)
    server = start_server(
        "model",
        "--model_name",
        "scale",
        "--model_path",
        str(base),
        "--file_system_poll_wait_seconds",
        "0.2",
        "--batching",
        '{"max_batch_size": 8, "batch_timeout_micros": 30000}',
    )
    client = RawClient(server.address)
    factors = {1: 2.0, 2: 3.0}
    failures: list[str] = []
    seen: list[int] = []
    stop = threading.Event()

    def load(seed: int) -> None:
        rng = np.random.default_rng(seed)
        while not stop.is_set():
            x = rng.random((1, 4), dtype=np.float32)
            try:
                version, outputs = client.predict("scale", {"x": x}, timeout=10)
            except Exception as exc:  # none may happen
                failures.append(repr(exc))
                continue
            if not np.array_equal(outputs["y"], x * np.float32(factors[version])):
                failures.append(f"wrong answer from version {version}")
            seen.append(version)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        _publish(base, 2, 3.0, staging)
        deadline = time.monotonic() + 60
        while client.status("scale") != {1: ("END", 0, ""), 2: ("AVAILABLE", 0, "")}:
            assert time.monotonic() < deadline, client.status("scale")
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        client.close()
    assert failures == []
    assert {1, 2} <= set(seen) and len(seen) > 100
    log = server.log()
    assert "model scale version 1: unloaded" in log
    assert "model scale version 2: batching on" in log


def test_sagemaker_invocations_batch_with_aws_variables(tmp_path):
    """SAGEMAKER_TFS_ENABLE_BATCHING=true with AWS's variables: concurrent /invocations each get
    OpenVINO's answer for their own instances; unset variables are named in a warning."""
    xml = models.save(models.mlp_model(), tmp_path / "model", 1) / "model.xml"
    serve = ServeProcess(
        tmp_path / "model",
        tmp_path / "serve.log",
        {"SAGEMAKER_TFS_ENABLE_BATCHING": "true", "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS": "20000"},
    )
    try:
        serve.wait_ready()
        mlp = OpenVino(xml)
        inputs = _distinct_inputs(32)

        def invoke(x: np.ndarray) -> np.ndarray:
            response = requests.post(f"{serve.url}/invocations", json={"instances": x.tolist()}, timeout=60)
            assert response.status_code == 200, response.text
            return np.array(response.json()["predictions"], np.float32)

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(invoke, inputs))
        for x, answer in zip(inputs, answers, strict=True):
            np.testing.assert_allclose(answer, mlp({"x": x})["y"], rtol=1e-5, atol=1e-4)
        too_many = requests.post(f"{serve.url}/invocations", json={"instances": np.zeros((9, 32)).tolist()}, timeout=60)
        assert too_many.status_code == 400
        assert too_many.json() == {"error": "Task size 9 is larger than maximum input batch size 8"}
    finally:
        serve.stop()
    log = serve.log()
    assert "SAGEMAKER_TFS_MAX_BATCH_SIZE not set: its default is used" in log
    assert "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS not set" not in log
    assert "batching on (max_batch_size 8, batch_timeout_micros 20000" in log


def test_sagemaker_enable_batching_other_than_true_or_false_stops_start_up(tmp_path):
    """serve.py: raise ValueError("SAGEMAKER_TFS_ENABLE_BATCHING must be 'true' or 'false'")."""
    models.save(models.mlp_model(), tmp_path / "model", 1)
    env = {**os.environ, "SM_MODEL_DIR": str(tmp_path / "model"), "SAGEMAKER_TFS_ENABLE_BATCHING": "yes"}
    result = subprocess.run([sys.executable, "-m", "serve"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert "SAGEMAKER_TFS_ENABLE_BATCHING: expected true or false, got 'yes'" in result.stderr


def test_concurrent_kserve_v2_clients_batch_with_the_rest(batching_server):
    """KServe v2 infer (inference_rest.md's JSON request, as the spec writes it) goes through the
    same batcher: 32 concurrent requests each get OpenVINO's answer on their own input."""
    _, rest_port, mlp, _ = batching_server
    before = processed_batch_counts(rest_port)
    inputs = _distinct_inputs(32)

    def infer(x: np.ndarray) -> np.ndarray:
        body = {"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}]}
        response = requests.post(f"http://127.0.0.1:{rest_port}/v2/models/mlp/infer", json=body, timeout=60)
        assert response.status_code == 200, response.text
        (output,) = response.json()["outputs"]
        assert output["name"] == "y" and output["datatype"] == "FP32"
        return np.array(output["data"], np.float32).reshape(output["shape"])

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(infer, inputs))
    for x, answer in zip(inputs, answers, strict=True):
        np.testing.assert_allclose(answer, mlp({"x": x})["y"], rtol=1e-5, atol=1e-4)
    after = processed_batch_counts(rest_port)
    assert after["sum"] - before.get("sum", 0) == 32
    assert after["count"] - before.get("count", 0) < 32, (before, after)  # merged


def test_kserve_v2_outputs_keep_the_requested_order_with_batching(batching_server):
    """The v2 answer lists outputs in the order the request's "outputs" names them
    (kserve/open-inference-protocol inference_rest.md), with batching on as without it: the
    batcher runs them in sorted order but hands them back in the request's (TF Serving's
    batching_session.cc SplitOutputTensors does the same per task)."""
    _, rest_port, _, dynamic = batching_server
    x = _distinct_inputs(1, width=5)[0]
    body = {
        "inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}],
        "outputs": [{"name": "square"}, {"name": "row_sum"}],
    }
    response = requests.post(f"http://127.0.0.1:{rest_port}/v2/models/dynamic/infer", json=body, timeout=60)
    assert response.status_code == 200, response.text
    outputs = response.json()["outputs"]
    assert [output["name"] for output in outputs] == ["square", "row_sum"]
    want = dynamic({"x": x})
    for output in outputs:
        got = np.array(output["data"], np.float32).reshape(output["shape"])
        np.testing.assert_allclose(got, want[output["name"]], rtol=1e-5, atol=1e-4)
