"""SageMaker environment variables and model directory layouts, resolved without a server."""

from __future__ import annotations

import json
import pathlib

import pytest

from ie_serving.batching_config import schedulable_cpus
from ie_serving.errors import ConfigError
from serve import layout, settings


def test_defaults_are_aws_containers() -> None:
    got = settings.from_environ({})
    assert (got.http_port, got.grpc_port, got.max_payload_mb, got.timeout_seconds) == (8080, 9000, None, 60)
    assert (got.model_dir, got.workers, got.threads, got.nireq) == (pathlib.Path("/opt/ml/model"), 1, 8, None)


def test_grpc_port_comes_from_the_safe_range_unless_set() -> None:
    assert settings.from_environ({"SAGEMAKER_SAFE_PORT_RANGE": "10000-10999"}).grpc_port == 10000
    env = {"SAGEMAKER_SAFE_PORT_RANGE": "8080-8081", "SAGEMAKER_BIND_TO_PORT": "8080"}
    assert settings.from_environ(env).grpc_port == 8081
    assert settings.from_environ({**env, "SAGEMAKER_GRPC_PORT": "7000"}).grpc_port == 7000


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SAGEMAKER_SAFE_PORT_RANGE": "9-2"}, "SAGEMAKER_SAFE_PORT_RANGE"),
        ({"SAGEMAKER_GRPC_PORT": "8080"}, "SAGEMAKER_GRPC_PORT"),
        ({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "0"}, "SAGEMAKER_MAX_PAYLOAD_IN_MB"),
        ({"SAGEMAKER_GUNICORN_THREADS": "many"}, "SAGEMAKER_GUNICORN_THREADS"),
        ({"SAGEMAKER_BIND_TO_PORT": "70000"}, "SAGEMAKER_BIND_TO_PORT"),
    ],
)
def test_bad_values_name_the_variable(env: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings.from_environ(env)


def _ir(directory: pathlib.Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.xml").write_text("<net/>")
    (directory / "model.bin").write_bytes(b"")


def test_layouts(tmp_path: pathlib.Path) -> None:
    _ir(tmp_path / "versions" / "3")
    got = layout.resolve(tmp_path / "versions", None, nireq=2)
    assert [(m.name, m.base_path, m.nireq) for m in got.models] == [("model", str(tmp_path / "versions"), 2)]
    assert got.default_model == "model"

    _ir(tmp_path / "bare")
    (tmp_path / "bare" / "code").mkdir()
    got = layout.resolve(tmp_path / "bare", "resnet")
    version_1 = pathlib.Path(got.models[0].base_path) / "1"
    assert got.models[0].name == "resnet" and version_1.resolve() == (tmp_path / "bare").resolve()

    _ir(tmp_path / "many" / "a" / "1")
    _ir(tmp_path / "many" / "b")
    (tmp_path / "many" / "notes").mkdir()
    got = layout.resolve(tmp_path / "many", None)
    assert [m.name for m in got.models] == ["a", "b"] and got.default_model == "a"  # the first, as AWS
    with pytest.raises(ConfigError, match="SAGEMAKER_TFS_DEFAULT_MODEL_NAME"):
        layout.resolve(tmp_path / "many", "c")


def _saved_model(directory: pathlib.Path) -> None:
    (directory / "variables").mkdir(parents=True)
    (directory / "saved_model.pb").write_bytes(b"")


def test_models_at_any_depth_with_every_version_as_aws_finds_them(tmp_path: pathlib.Path) -> None:
    """AWS's tfs_utils.find_models: a numeric directory holding a model is a version of the model
    named by its parent; serve.py writes a `specific` policy with every version found."""
    _saved_model(tmp_path / "export" / "Servo" / "1700000000")
    _saved_model(tmp_path / "export" / "Servo" / "1600000000")
    _ir(tmp_path / "zoo" / "deep" / "resnet" / "00000012")
    (tmp_path / "code").mkdir()
    _ir(tmp_path / "code" / "7")  # never a model
    got = layout.resolve(tmp_path, None)
    assert [(m.name, m.base_path) for m in got.models] == [
        ("Servo", str(tmp_path / "export" / "Servo")),
        ("resnet", str(tmp_path / "zoo" / "deep" / "resnet")),
    ]
    assert all(m.version_policy.kind == "all" for m in got.models)
    assert got.default_model == "Servo"


def test_two_models_with_one_name_are_refused(tmp_path: pathlib.Path) -> None:
    _ir(tmp_path / "a" / "m" / "1")
    _ir(tmp_path / "b" / "m" / "1")
    with pytest.raises(ConfigError, match=r"several models are named \['m'\]"):
        layout.resolve(tmp_path, None)


def test_config_json_resolves_relative_base_paths(tmp_path: pathlib.Path) -> None:
    entries = [{"config": {"name": "m", "base_path": "sub/m"}}, {"config": {"name": "r", "base_path": "s3://b/r"}}]
    (tmp_path / "config.json").write_text(json.dumps({"model_config_list": entries}))
    got = layout.resolve(tmp_path, None)
    assert [m.base_path for m in got.models] == [str(tmp_path / "sub" / "m"), "s3://b/r"]


def test_an_empty_directory_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="no model"):
        layout.resolve(tmp_path, None)
    with pytest.raises(ConfigError, match="not a directory"):
        layout.resolve(tmp_path / "missing", None)


def test_aws_variables_with_a_meaning_here_are_honoured() -> None:
    """AWS's DLC serve.py: SAGEMAKER_GUNICORN_TIMEOUT_SECONDS, SAGEMAKER_GUNICORN_LOGLEVEL,
    SAGEMAKER_TFS_INTRA_OP_PARALLELISM, and SAGEMAKER_TFS_ENABLE_BATCHING true/false only."""
    got = settings.from_environ(
        {
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "90",
            "SAGEMAKER_GUNICORN_TIMEOUT_SECONDS": "120",
            "SAGEMAKER_GUNICORN_LOGLEVEL": "WARNING",
            "SAGEMAKER_TFS_INTRA_OP_PARALLELISM": "3",
        }
    )
    assert (got.timeout_seconds, got.gunicorn_log_level) == (120, "warning")
    assert settings.from_environ({"SAGEMAKER_MODEL_SERVER_TIMEOUT": "90"}).timeout_seconds == 90
    assert settings.plugin_config(got) == {"INFERENCE_NUM_THREADS": 3}
    assert settings.plugin_config(settings.from_environ({})) == {}
    with pytest.raises(ConfigError, match="SAGEMAKER_GUNICORN_LOGLEVEL: expected one of debug, info"):
        settings.from_environ({"SAGEMAKER_GUNICORN_LOGLEVEL": "loud"})
    with pytest.raises(ConfigError, match="SAGEMAKER_TFS_ENABLE_BATCHING: expected true or false, got 'yes'"):
        settings.from_environ({"SAGEMAKER_TFS_ENABLE_BATCHING": "yes"})


def test_aws_variables_without_a_meaning_here_are_named_in_a_warning() -> None:
    environ = {"SAGEMAKER_TFS_MAX_BATCH_SIZE": "4", "SAGEMAKER_TFS_INSTANCE_COUNT": "2", "OTHER": "x"}
    lines = settings.no_effect(settings.from_environ(environ), environ)
    assert lines[0] == "SAGEMAKER_TFS_INSTANCE_COUNT='2' has no effect: one process serves every request " + (
        "(use SAGEMAKER_GUNICORN_THREADS)"
    )
    assert lines[1] == "SAGEMAKER_TFS_MAX_BATCH_SIZE='4' has no effect: SAGEMAKER_TFS_ENABLE_BATCHING is not true"
    assert len(lines) == 2
    environ["SAGEMAKER_TFS_ENABLE_BATCHING"] = "true"
    assert len(settings.no_effect(settings.from_environ(environ), environ)) == 1
    assert settings.no_effect(settings.from_environ({}), {}) == []


def test_batching_variables_take_aws_defaults_and_values() -> None:
    """AWS's tfs_utils.py create_batching_config: max_batch_size 8, batch_timeout_micros 1000,
    num_batch_threads and max_enqueued_batches the CPU count (max_enqueued_batches 100000000
    when SAGEMAKER_BATCH is set), a warning per variable left to its default; serve.py refuses
    SAGEMAKER_TFS_ENABLE_BATCHING other than true/false (any case)."""
    assert settings.batching(settings.from_environ({})) is None
    cpus = schedulable_cpus()
    defaults = settings.batching(settings.from_environ({"SAGEMAKER_TFS_ENABLE_BATCHING": "TRUE"}))
    assert defaults is not None
    assert (defaults.max_batch_size, defaults.batch_timeout_micros) == (8, 1000)
    assert (defaults.num_batch_threads, defaults.max_enqueued_batches) == (cpus, cpus)
    batch = settings.from_environ({"SAGEMAKER_TFS_ENABLE_BATCHING": "true", "SAGEMAKER_BATCH": "true"})
    assert settings.batching(batch).max_enqueued_batches == 100000000  # type: ignore[union-attr]
    environ = {
        "SAGEMAKER_TFS_ENABLE_BATCHING": "true",
        "SAGEMAKER_TFS_MAX_BATCH_SIZE": "16",
        "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS": "500",
        "SAGEMAKER_TFS_NUM_BATCH_THREADS": "100",
        "SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES": "1",
    }
    given = settings.batching(settings.from_environ(environ))
    assert given is not None
    assert (given.max_batch_size, given.batch_timeout_micros, given.num_batch_threads) == (16, 500, 100)
    assert given.max_enqueued_batches == 1
    assert settings.defaulted_batching(environ) == []
    assert len(settings.defaulted_batching({"SAGEMAKER_TFS_ENABLE_BATCHING": "true"})) == 4
    with pytest.raises(ConfigError, match="SAGEMAKER_TFS_MAX_BATCH_SIZE: expected an integer >= 1, got 'eight'"):
        settings.from_environ({"SAGEMAKER_TFS_MAX_BATCH_SIZE": "eight"})
    with pytest.raises(ConfigError, match="SAGEMAKER_TFS_ENABLE_BATCHING: expected true or false, got '1'"):
        settings.from_environ({"SAGEMAKER_TFS_ENABLE_BATCHING": "1"})
