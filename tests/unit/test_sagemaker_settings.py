"""SageMaker environment variables and model directory layouts, resolved without a server."""

from __future__ import annotations

import json
import pathlib

import pytest

from ie_serving.errors import ConfigError
from serve import layout, settings


def test_defaults_are_aws_containers() -> None:
    got = settings.from_environ({})
    assert (got.http_port, got.grpc_port, got.max_payload_mb, got.timeout_seconds) == (8080, 9000, 6, 60)
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
    assert [m.name for m in got.models] == ["a", "b"] and got.default_model is None
    with pytest.raises(ConfigError, match="SAGEMAKER_TFS_DEFAULT_MODEL_NAME"):
        layout.resolve(tmp_path / "many", "c")


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
