"""The command line: start-up failures exit non-zero with a message that says what to fix,
SIGTERM exits 0, and the log tells the start-up story."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np

from tests import models
from tests.grpc_client import RawClient


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ie_serving", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_bad_flag_value_names_the_flag():
    result = _run("model", "--model_name", "m", "--model_path", "/x", "--batch_size", "zero")
    assert result.returncode == 2
    assert "batch_size: expected a positive integer or \"auto\", got 'zero'" in result.stderr


def test_unknown_flag_is_refused():
    result = _run("model", "--model_name", "m", "--model_path", "/x", "--batchsize", "1")
    assert result.returncode == 2 and "unrecognized arguments: --batchsize" in result.stderr


def test_unknown_config_key_is_refused(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_config_list": [{"config": {"name": "m", "base_path": "/x", "shapes": 1}}]}))
    result = _run("config", "--config_path", str(config))
    assert result.returncode == 2
    assert "model_config_list[0].config: unknown key(s) ['shapes']; accepted keys are" in result.stderr


def test_bad_log_level_is_refused():
    result = _run("model", "--model_name", "m", "--model_path", "/x", env={**os.environ, "LOG_LEVEL": "LOUD"})
    assert result.returncode == 2 and "LOG_LEVEL: expected one of ERROR, INFO, DEBUG" in result.stderr


def test_missing_base_path_exits_1(tmp_path):
    result = _run("model", "--model_name", "m", "--model_path", str(tmp_path / "absent"))
    assert result.returncode == 1
    assert f"model m: cannot list base path '{tmp_path / 'absent'}'" in result.stderr


def test_port_in_use_exits_1(tmp_path):
    models.save(models.scale_model(), tmp_path / "m")
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("model", "--model_name", "m", "--model_path", str(tmp_path / "m"), "--port", str(port))
    assert result.returncode == 1 and f"cannot bind gRPC port {port}" in result.stderr


def test_start_up_story_log_file_and_clean_shutdown(tmp_path, start_server):
    models.save(models.scale_model(), tmp_path / "m")
    log_file = tmp_path / "server.log"
    server = start_server(
        "model", "--model_name", "m", "--model_path", str(tmp_path / "m"), env={"LOG_PATH": str(log_file)}
    )
    client = RawClient(server.address)
    try:
        client.predict("m", {"x": np.ones((1, 4), np.float32)})
    finally:
        client.close()
    assert server.stop() == 0
    text = log_file.read_text()
    for expected in [
        "loading 1 model(s): m",
        "model m version 1: AVAILABLE in",
        "precision f32",
        "inputs {'x': ('float32', (-1, 4))}",
        f"gRPC TF Serving API listening on 0.0.0.0:{server.port}",
        "grpc Predict model=m version=latest status=OK time=",
        "shutting down",
    ]:
        assert expected in text, expected


def test_poll_interval_from_seed_environment_variable(tmp_path, start_server):
    models.save(models.scale_model(), tmp_path / "m")
    server = start_server(
        "model", "--model_name", "m", "--model_path", str(tmp_path / "m"), env={"FILE_SYSTEM_POLL_WAIT_SECONDS": "7"}
    )
    assert "polling model base paths every 7.0 s" in server.log()


def test_unsupported_tensorflow_model_server_flags_are_named():
    """A TF Serving flag whose feature is not built here is refused by name; one that is mapped
    (--tensorflow_intra_op_parallelism) is not (tests/functional/test_tf_serving_flags.py)."""
    result = _run(
        "--model_name", "m", "--model_base_path", "/x", "--use_alts_credentials", "--tensorflow_intra_op_parallelism=2"
    )
    assert result.returncode == 2
    assert "--use_alts_credentials=true: ALTS credentials are not built" in result.stderr
    assert "tensorflow_intra_op_parallelism" not in result.stderr


def test_text_config_with_unsupported_field_is_refused(tmp_path):
    config = tmp_path / "models.config"
    config.write_text("model_config_list { config { name: 'a' base_path: '/m' logging_config { } } }")
    result = _run("--model_config_file", str(config))
    assert result.returncode == 2
    assert 'has no field named "logging_config"' in result.stderr


def test_tensorflow_model_server_flags_need_a_model():
    result = _run("--port", "8500")
    assert result.returncode == 2 and "give either --model_config_file or --model_base_path" in result.stderr
