"""Config file and CLI parsing: accepted forms and error messages naming the field."""

import json
import re

import pytest

from ie_serving import cli
from ie_serving.config import load_config_file, parse_batch_size, parse_model, parse_shape, poll_wait_seconds
from ie_serving.errors import ConfigError


def test_config_file_round_trip(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "model_config_list": [
                    {"config": {"name": "a", "base_path": "/m/a"}},
                    {
                        "config": {
                            "name": "b",
                            "base_path": "/m/b",
                            "batch_size": "auto",
                            "shape": {"x": "(1,3,-1,-1)"},
                            "model_version_policy": {"all": {}},
                            "nireq": 3,
                            "plugin_config": {"NUM_STREAMS": 2},
                        }
                    },
                ]
            }
        )
    )
    a, b = load_config_file(str(path))
    assert (a.name, a.base_path, a.batch_size, a.shape, a.version_policy.kind) == ("a", "/m/a", None, None, "latest")
    assert b.batch_size == "auto"
    assert b.shape == {"x": (1, 3, -1, -1)}
    assert b.version_policy.kind == "all"
    assert b.nireq == 3
    assert dict(b.plugin_config) == {"NUM_STREAMS": 2}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"model_config_list": [{"config": {"name": "a", "base_path": "/m", "batchsize": 1}}]},
            "unknown key(s) ['batchsize']",
        ),
        ({"model_config_list": [{"config": {"name": "a"}}]}, "model_config_list[0].config.base_path: required"),
        ({"model_config_list": []}, "non-empty list"),
        ({"models": []}, 'single key "model_config_list"'),
        (
            {"model_config_list": [{"config": {"name": "a", "base_path": "/m", "nireq": -1}}]},
            "nireq: expected an integer >= 1",
        ),
        (
            {
                "model_config_list": [
                    {"config": {"name": "a", "base_path": "/m"}},
                    {"config": {"name": "a", "base_path": "/n"}},
                ]
            },
            "names must be unique",
        ),
    ],
)
def test_config_file_errors(tmp_path, document, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError) as info:
        load_config_file(str(path))
    assert message in str(info.value)


def test_config_file_not_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{nope")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load_config_file(str(path))


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("auto", "auto"),
        ("(1,3,224,224)", (1, 3, 224, 224)),
        ("[1, 3, -1, -1]", (1, 3, -1, -1)),
        ([2, 4], (2, 4)),
        ('{"a": "(1,2)", "b": "auto"}', {"a": (1, 2), "b": "auto"}),
        (None, None),
    ],
)
def test_shape_forms(raw, parsed):
    assert parse_shape(raw) == parsed


@pytest.mark.parametrize("raw", ["(1,x)", "(0,3)", [1, -2], "{bad json", "()"])
def test_bad_shapes(raw):
    with pytest.raises(ConfigError, match="shape"):
        parse_shape(raw)


@pytest.mark.parametrize(("raw", "parsed"), [("auto", "auto"), ("4", 4), (8, 8), (None, None)])
def test_batch_size_forms(raw, parsed):
    assert parse_batch_size(raw) == parsed


@pytest.mark.parametrize("raw", ["0", "-1", "many", 1.5])
def test_bad_batch_size(raw):
    with pytest.raises(ConfigError, match='batch_size: expected a positive integer or "auto"'):
        parse_batch_size(raw)


def test_model_flags_parse():
    args = cli.build_parser().parse_args(
        [
            "model",
            "--model_name",
            "m",
            "--model_path",
            "/models/m",
            "--model_version_policy",
            '{"specific": {"versions": [2, 1]}}',
            "--plugin_config",
            '{"INFERENCE_PRECISION_HINT": "bf16"}',
            "--rest_port",
            "8501",
            "--file_system_poll_wait_seconds",
            "0",
            "--static_batch_one",
            "false",
        ]
    )
    config = cli.config_from_args(args)
    (model,) = config.models
    assert model.version_policy.versions == (1, 2)
    assert model.plugin_config == {"INFERENCE_PRECISION_HINT": "bf16"}
    assert model.static_batch_one is False
    assert (config.port, config.rest_port, config.poll_wait_seconds) == (9000, 8501, 0.0)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--plugin_config", "{nope"], "--model.plugin_config: invalid JSON"),
        (["--plugin_config", "[1]"], "--model.plugin_config: expected a JSON object"),
        (["--model_version_policy", '{"latest": 1}'], "model_version_policy.latest: expected an object"),
        (["--port", "70000"], "--port: expected a port number"),
        (["--grpc_workers", "0"], "--grpc_workers: expected an integer >= 1"),
        (["--static_batch_one", "maybe"], "--model.static_batch_one: expected true or false, got 'maybe'"),
    ],
)
def test_bad_model_flags(flags, message):
    args = cli.build_parser().parse_args(["model", "--model_name", "m", "--model_path", "/m", *flags])
    with pytest.raises(ConfigError) as info:
        cli.config_from_args(args)
    assert message in str(info.value)


def test_poll_wait_from_environment():
    assert poll_wait_seconds(None, {"FILE_SYSTEM_POLL_WAIT_SECONDS": "5"}) == 5
    assert poll_wait_seconds(2, {"FILE_SYSTEM_POLL_WAIT_SECONDS": "5"}) == 2
    assert poll_wait_seconds(None, {}) == 1
    with pytest.raises(ConfigError, match="file_system_poll_wait_seconds"):
        poll_wait_seconds(None, {"FILE_SYSTEM_POLL_WAIT_SECONDS": "soon"})


def test_parse_model_rejects_non_string_device():
    with pytest.raises(ConfigError, match="target_device"):
        parse_model({"name": "m", "base_path": "/m", "target_device": 3})


def test_image_options_from_flags_and_config_keys():
    args = cli.build_parser().parse_args(
        ["model", "--model_name", "m", "--model_path", "/m", "--color_format", "bgr", "--layout", "NCHW"]
        + ["--mean", "[123.68, 116.78, 103.94]", "--scale", "58.8"]
    )
    (model,) = cli.config_from_args(args).models
    assert (model.color_format, model.layout, model.mean, model.scale) == (
        "BGR",
        "NCHW",
        (123.68, 116.78, 103.94),
        (58.8,),
    )
    plain = parse_model({"name": "m", "base_path": "/m", "mean": 127.5, "scale": [1, 2, 3]})
    assert (plain.color_format, plain.layout, plain.mean, plain.scale) == ("RGB", None, (127.5,), (1.0, 2.0, 3.0))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("color_format", "RGBA", "config.color_format: expected one of RGB, BGR, got 'RGBA'"),
        ("layout", "HWC", "config.layout: expected one of NHWC, NCHW, got 'HWC'"),
        ("mean", "[1, 'a']", "config.mean: expected a number or a JSON list of numbers"),
        ("mean", [], "config.mean: expected a number or a list of numbers (one per channel), got []"),
        ("scale", [1, 0], "config.scale: pixels are divided by it, so it must not be 0"),
    ],
)
def test_bad_image_options(key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_model({"name": "m", "base_path": "/m", key: value})


def test_config_command_polls_its_file_and_both_commands_take_the_labels_flag(tmp_path):
    """TF Serving's --model_config_file_poll_wait_seconds and --allow_version_labels_for_unavailable_models
    (model_servers/main.cc) on `ie_serving config` / `ie_serving model`."""
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"model_config_list": [{"config": {"name": "m", "base_path": "/m"}}]}))
    parser = cli.build_parser()
    polled = cli.config_from_args(
        parser.parse_args(
            ["config", "--config_path", str(path), "--model_config_file_poll_wait_seconds", "2.5"]
            + ["--allow_version_labels_for_unavailable_models"]
        )
    )
    assert (polled.model_config_file, polled.model_config_file_format) == (str(path), "json")
    assert polled.model_config_file_poll_wait_seconds == 2.5
    assert polled.allow_version_labels_for_unavailable_models is True
    plain = cli.config_from_args(parser.parse_args(["config", "--config_path", str(path)]))
    assert plain.model_config_file_poll_wait_seconds == 0 and not plain.allow_version_labels_for_unavailable_models
    model = cli.config_from_args(
        parser.parse_args(
            ["model", "--model_name", "m", "--model_path", "/m", "--allow_version_labels_for_unavailable_models=false"]
        )
    )
    assert model.allow_version_labels_for_unavailable_models is False and model.model_config_file is None
    with pytest.raises(ConfigError, match="--model_config_file_poll_wait_seconds: expected seconds >= 0"):
        cli.config_from_args(
            parser.parse_args(["config", "--config_path", str(path), "--model_config_file_poll_wait_seconds", "-1"])
        )
    with pytest.raises(SystemExit):
        parser.parse_args(
            ["model", "--model_name", "m", "--model_path", "/m", "--model_config_file_poll_wait_seconds", "1"]
        )
