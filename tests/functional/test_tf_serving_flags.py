"""The `tensorflow_model_server` console script started with TF Serving's own flags, each mapped
flag checked for its effect. The contract is tensorflow/serving's model_servers/main.cc (the
flags), server.h (their defaults), server.cc (parseGrpcChannelArgs: "k=v,k=v", ints as ints,
added to the ServerBuilder after SetMaxMessageSize; ResourceQuota max threads from
--grpc_max_threads; intra/session parallelism into the session config), http_server.cc
(OPTIONS preflight and AddCORSHeaders from http_rest_api_util.cc; --rest_api_timeout_in_ms as the
RunOptions timeout of each REST call, DEADLINE_EXCEEDED answered 504 by ToHTTPStatusCode) and
util/net_http/server/internal/evhttp_request.cc (gzip request bodies)."""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import re
import subprocess

import grpc
import numpy as np
import pytest
import requests

from ie_serving.compile_policy import compile_for_serving
from ie_serving.tf_serving_flags import config_from_tf_flags
from tests import models
from tests.framework_envs import run_tf
from tests.grpc_client import RawClient
from tests.rest_helpers import assert_error
from tests.server import SCRIPT, ServerProcess, TfModelServer


@pytest.fixture
def tf_server(tmp_path):
    started: list[TfModelServer] = []

    def start(*args: str) -> TfModelServer:
        server = TfModelServer(list(args), tmp_path / f"tfms{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET",
    "Access-Control-Allow-Headers": "Content-Type",
}


def _tf(script_args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *script_args], capture_output=True, text=True, timeout=60)


def test_console_script_with_tf_servings_flags(tmp_path, tf_server):
    """One start with the mapped flags, each checked for its effect, two flags without a meaning
    here (one warning line each), and the official tensorflow-serving-api client."""
    models.save(models.scale_model(), tmp_path / "m")
    server = tf_server(
        "--model_name=m",
        f"--model_base_path={tmp_path / 'm'}",
        "--tensorflow_intra_op_parallelism=1",
        "--rest_api_num_threads=3",
        "--grpc_max_threads=5",
        "--rest_api_enable_cors_support",
        "--grpc_channel_arguments=grpc.max_receive_message_length=1048576",
        "--num_tflite_pools=2",
        "--xla_cpu_compilation_enabled",
        "--file_system_poll_wait_seconds=0",
    )
    log = server.log()
    assert "OpenVINO INFERENCE_NUM_THREADS 1 for every model" in log
    assert f"gRPC TF Serving API listening on 0.0.0.0:{server.port} (5 worker threads, " in log
    assert "grpc.max_receive_message_length=1048576)" in log
    assert re.search(rf"REST TF Serving API listening on 0\.0\.0\.0:{server.rest_port} \(3 threads, .*30000 ms", log)
    assert log.count("--num_tflite_pools=2 accepted and ignored: ") == 1
    assert log.count("--xla_cpu_compilation_enabled=true accepted and ignored: ") == 1

    # the official client (float_val, as TF Serving writes it by default)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.savez(tmp_path / "in.npz", x=x)
    answer = json.loads(
        run_tf("tf_serving_client.py", server.address, "m", str(tmp_path / "in.npz"), str(tmp_path / "out.npz")).stdout
    )
    assert answer["fields"] == {"y": "float_val"}
    with np.load(tmp_path / "out.npz") as out:
        np.testing.assert_array_equal(out["y"], x * 2)

    # --grpc_channel_arguments: the receive limit is now 1 MB (the default here is TF Serving's 2 GB)
    client = RawClient(server.address)
    try:
        with pytest.raises(grpc.RpcError) as info:
            client.predict("m", {"x": np.ones((80_000, 4), np.float32)})  # 1.28 MB
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        _, outputs = client.predict("m", {"x": np.ones((40_000, 4), np.float32)})  # 640 kB
        assert outputs["y"].shape == (40_000, 4)
    finally:
        client.close()

    # REST: CORS headers on answers and errors, the preflight, gzip bodies
    url = f"{server.url}/v1/models/m:predict"
    body = json.dumps({"instances": x.tolist()}).encode()
    zipped = requests.post(url, data=gzip.compress(body), headers={"Content-Encoding": "gzip"}, timeout=30)
    assert zipped.status_code == 200, zipped.text
    assert zipped.json() == {"predictions": (x * 2).tolist()}
    assert {k: zipped.headers.get(k) for k in CORS} == CORS
    missing = requests.get(f"{server.url}/v1/models/absent", timeout=30)
    assert missing.status_code == 404 and {k: missing.headers.get(k) for k in CORS} == CORS
    preflight = requests.options(url, headers={"Origin": "http://localhost:3000"}, timeout=30)
    assert preflight.status_code == 200 and preflight.content == b""
    assert {k: preflight.headers.get(k) for k in CORS} == CORS
    corrupt = requests.post(url, data=b"\x1f\x8b not gzip", headers={"Content-Encoding": "gzip"}, timeout=30)
    assert_error(corrupt, 400, "Content-Encoding gzip: the body is not valid gzip data")
    bomb = gzip.compress(b" " * (101 * 1024 * 1024))  # 101 MB of spaces in 100 kB, over the 100 MB limit
    too_large = requests.post(url, data=bomb, headers={"Content-Encoding": "gzip"}, timeout=60)
    assert_error(too_large, 413, "its gzip content is over the limit")


def test_rest_api_timeout_answers_504_behind_a_busy_model(tmp_path, tf_server):
    """--rest_api_timeout_in_ms: a REST predict still waiting for an infer request at its deadline
    answers 504 DEADLINE_EXCEEDED (TF Serving's RunOptions timeout, ToHTTPStatusCode); the
    requests that got an infer request answer 200."""
    models.save(models.slow_model(), tmp_path / "slow")
    server = tf_server("--model_name=slow", f"--model_base_path={tmp_path / 'slow'}", "--rest_api_timeout_in_ms=300")
    nireq = int(re.search(r"model slow version 1: AVAILABLE .* nireq (\d+)", server.log())[1])
    body = gzip.compress(json.dumps({"instances": np.ones((512, 1024), np.float32).tolist()}).encode())

    def predict(_):
        return requests.post(
            f"{server.url}/v1/models/slow:predict", data=body, headers={"Content-Encoding": "gzip"}, timeout=120
        )

    with concurrent.futures.ThreadPoolExecutor(nireq + 3) as pool:
        answers = list(pool.map(predict, range(nireq + 3)))
    statuses = sorted(a.status_code for a in answers)
    assert 200 in statuses and 504 in statuses, statuses
    assert set(statuses) == {200, 504}, statuses
    late = next(a for a in answers if a.status_code == 504)
    assert_error(late, 504, "deadline exceeded while waiting for a free infer request")
    assert "rest Predict model=slow version=latest status=DEADLINE_EXCEEDED" in server.log()


def test_flags_whose_feature_is_not_built_stop_start_up():
    result = _tf(["--model_base_path=/x", "--use_alts_credentials"])
    assert result.returncode == 2
    assert result.stderr.startswith("tensorflow_model_server: error: ")
    assert "--use_alts_credentials=true: ALTS credentials are not built" in result.stderr
    unknown = _tf(["--model_base_path=/x", "--rest_port=8501"])
    assert unknown.returncode == 2 and "unknown flag(s) --rest_port=8501" in unknown.stderr


def test_version_prints_and_exits_0():
    result = _tf(["--version"])
    assert result.returncode == 0
    assert result.stdout.startswith("TensorFlow ModelServer: ie_serving ")


def test_model_config_file_wins_over_model_base_path(tmp_path, start_server):
    """main.cc: --model_config_file "If used, --model_name, --model_base_path are ignored."
    (`ie_serving` with TF Serving's flags, the tests' ServerProcess)."""
    models.save(models.scale_model(3.0), tmp_path / "a")
    config = tmp_path / "models.config"
    config.write_text(f"model_config_list {{ config {{ name: 'a' base_path: '{tmp_path / 'a'}' }} }}")
    server: ServerProcess = start_server(
        "--model_name=b", f"--model_base_path={tmp_path / 'absent'}", f"--model_config_file={config}"
    )
    client = RawClient(server.address)
    try:
        _, outputs = client.predict("a", {"x": np.ones((1, 4), np.float32)})
    finally:
        client.close()
    assert outputs["y"].tolist() == [[3.0] * 4]
    assert "--model_name and --model_base_path are ignored, as in TF Serving" in server.log()


def test_intra_op_parallelism_is_openvinos_thread_count():
    """--tensorflow_intra_op_parallelism reaches the compiled model's INFERENCE_NUM_THREADS,
    and --tensorflow_session_parallelism when intra is not given (server.cc)."""
    for flag, threads in (("--tensorflow_intra_op_parallelism=1", 1), ("--tensorflow_session_parallelism=2", 2)):
        (model,) = config_from_tf_flags(["--model_base_path=/m", flag]).models
        compiled = compile_for_serving(models.scale_model(), model)
        assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == threads
