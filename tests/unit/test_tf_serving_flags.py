"""tensorflow_model_server's command line (ie_serving/tf_serving_flags.py) against TF Serving's
own: tensorflow_serving/model_servers/main.cc (the flag list, `--version`), server.h (Options
defaults), server.cc (parseGrpcChannelArgs, the op parallelism rules, model_config_file over
model_base_path), http_server.cc (OPTIONS preflight, AddCORSHeaders) and
util/net_http/server/internal/evhttp_request.cc (gzip bodies)."""

from __future__ import annotations

import gzip
import logging
import pathlib
import re

import pytest

from ie_serving import cli, tf_serving_flags
from ie_serving.config import GrpcTls
from ie_serving.errors import ConfigError, InvalidInput, PayloadTooLarge, ServableNotFound
from ie_serving.http_common import read_body
from ie_serving.rest_api import create_app
from ie_serving.tf_serving_flags import FLAGS, MAPPED, REFUSED, WARNED, config_from_tf_flags

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "migrating.md"

# Every tensorflow::Flag of tensorflow/serving's model_servers/main.cc (master, 2026-07), in order.
MAIN_CC_FLAGS = [
    "port",
    "grpc_socket_path",
    "rest_api_port",
    "rest_api_num_threads",
    "rest_api_timeout_in_ms",
    "rest_api_enable_cors_support",
    "enable_batching",
    "allow_version_labels_for_unavailable_models",
    "batching_parameters_file",
    "enable_per_model_batching_parameters",
    "model_config_file",
    "model_config_file_poll_wait_seconds",
    "model_name",
    "model_base_path",
    "num_load_threads",
    "num_unload_threads",
    "max_num_load_retries",
    "load_retry_interval_micros",
    "file_system_poll_wait_seconds",
    "flush_filesystem_caches",
    "tensorflow_session_parallelism",
    "tensorflow_session_config_file",
    "tensorflow_intra_op_parallelism",
    "tensorflow_inter_op_parallelism",
    "use_alts_credentials",
    "ssl_config_file",
    "platform_config_file",
    "per_process_gpu_memory_fraction",
    "saved_model_tags",
    "grpc_channel_arguments",
    "grpc_max_threads",
    "enable_model_warmup",
    "num_request_iterations_for_warmup",
    "version",
    "monitoring_config_file",
    "remove_unused_fields_from_bundle_metagraph",
    "prefer_tflite_model",
    "num_tflite_pools",
    "num_tflite_interpreters_per_pool",
    "enable_signature_method_name_check",
    "xla_cpu_compilation_enabled",
    "xla_gpu_compilation_enabled",
    "enable_profiler",
    "thread_pool_factory_config_file",
    "mixed_precision",
    "skip_initialize_tpu",
    "enable_grpc_healthcheck_service",
    "enable_serialization_as_tensor_content",
]


def test_every_main_cc_flag_is_known_by_name() -> None:
    assert [flag.name for flag in FLAGS] == MAIN_CC_FLAGS
    assert {flag.treatment for flag in FLAGS} == {MAPPED, WARNED, REFUSED}


def test_migrating_md_tables_every_flag_with_default_and_treatment() -> None:
    """docs/migrating.md: one row per flag: | `name` | TF default | what this server does |."""
    rows = {}
    for line in DOCS.read_text().splitlines():
        match = re.match(r"\| `(\w+)` \| (.*?) \| (.*) \|$", line)
        if match:
            assert match[1] not in rows, f"--{match[1]} tabled twice"
            rows[match[1]] = (match[2], match[3])
    assert sorted(rows) == sorted(MAIN_CC_FLAGS)
    words = {MAPPED: "mapped", WARNED: "accepted with a warning", REFUSED: "refused"}
    for flag in FLAGS:
        default, text = rows[flag.name]
        assert default.strip("`") == flag.default, flag.name
        assert text.lower().startswith(words[flag.treatment]), (flag.name, text)


def _config(*argv: str):
    return config_from_tf_flags(["--model_base_path=/m", *argv])


def test_defaults_are_tf_servings() -> None:
    """server.h Options: gRPC 8500, REST off, 4 x CPUs threads, 30 s REST timeout, no CORS."""
    config = _config()
    cpus = tf_serving_flags._cpus()
    assert (config.port, config.rest_port) == (8500, 0)
    assert (config.rest_workers, config.grpc_workers) == (4 * cpus, 4 * cpus)
    assert config.rest_timeout_ms == 30000 and config.rest_cors is False
    assert config.models[0].name == "default" and config.models[0].plugin_config == {}
    assert config.grpc_max_message_mb * 1024 * 1024 < 2**31  # SetMaxMessageSize(int32 max)


def test_threads_and_timeout_are_mapped() -> None:
    config = _config("--rest_api_num_threads=3", "--grpc_max_threads", "5", "--rest_api_timeout_in_ms=250")
    assert (config.rest_workers, config.grpc_workers, config.rest_timeout_ms) == (3, 5, 250)
    assert _config("--rest_api_timeout_in_ms=0").rest_timeout_ms is None  # http_rest_api_handler: > 0 only


@pytest.mark.parametrize(
    ("argv", "threads"),
    [
        (["--tensorflow_intra_op_parallelism=2"], 2),
        (["--tensorflow_session_parallelism=3"], 3),
        (["--tensorflow_session_parallelism=3", "--tensorflow_intra_op_parallelism=2"], 2),
        (["--tensorflow_inter_op_parallelism=4"], None),
    ],
)
def test_op_parallelism_sets_openvino_threads(argv, threads) -> None:
    """server.cc: intra (with inter) wins over session parallelism."""
    plugin = _config(*argv).models[0].plugin_config
    assert plugin.get("INFERENCE_NUM_THREADS") == threads


def test_all_three_parallelism_flags_are_refused_as_tf_serving_does() -> None:
    with pytest.raises(ConfigError, match="not all three"):
        _config(
            "--tensorflow_session_parallelism=1",
            "--tensorflow_intra_op_parallelism=1",
            "--tensorflow_inter_op_parallelism=1",
        )


def test_mixed_precision_bfloat16() -> None:
    assert _config("--mixed_precision=bfloat16").models[0].plugin_config == {"INFERENCE_PRECISION_HINT": "bf16"}


def test_grpc_channel_arguments_ints_as_ints() -> None:
    """server.cc parseGrpcChannelArgs + absl::SimpleAtoi into int32."""
    config = _config("--grpc_channel_arguments=grpc.max_connection_age_ms=2000,grpc.primary_user_agent=x y")
    assert config.grpc_channel_arguments == (("grpc.max_connection_age_ms", 2000), ("grpc.primary_user_agent", "x y"))
    assert tf_serving_flags.parse_channel_arguments("a=4294967296") == (("a", "4294967296"),)
    with pytest.raises(ConfigError, match="--grpc_channel_arguments: expected key=value"):
        _config("--grpc_channel_arguments=grpc.x")


@pytest.mark.parametrize(("given", "expected"), [([], False), ([""], True), (["=true"], True), (["=false"], False)])
def test_boolean_flags_take_tf_forms(given, expected) -> None:
    argv = [f"--rest_api_enable_cors_support{g}" for g in given]
    assert _config(*argv).rest_cors is expected


def test_each_ignored_flag_is_one_warning_line(caplog) -> None:
    caplog.set_level(logging.WARNING)
    _config(
        "--xla_cpu_compilation_enabled=true",
        "--flush_filesystem_caches=false",
        "--num_load_threads=0",  # TF Serving's 0 is what happens here: no word
        "--use_alts_credentials=false",
    )
    lines = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert len(lines) == 2, lines
    assert lines[0].startswith("--flush_filesystem_caches=false accepted and ignored: ")
    assert lines[1].startswith("--xla_cpu_compilation_enabled=true accepted and ignored: ")


@pytest.mark.parametrize(
    ("flags", "iterations"),
    [
        ([], 1),
        (["--enable_model_warmup=false"], 0),
        (["--num_request_iterations_for_warmup=3"], 3),
        (["--num_request_iterations_for_warmup=0"], 1),
        (["--enable_model_warmup=false", "--num_request_iterations_for_warmup=3"], 0),
    ],
)
def test_warmup_flags_map_to_the_replays_per_record(flags, iterations) -> None:
    """TF Serving's server.cc: --enable_model_warmup (default true) and
    --num_request_iterations_for_warmup, "used only if > 0" (else each record once)."""
    assert _config(*flags).warmup_iterations == iterations


def test_health_flag_turns_on_the_health_service() -> None:
    assert _config("--enable_grpc_healthcheck_service").enable_grpc_healthcheck_service is True
    assert _config().enable_grpc_healthcheck_service is False


def test_flags_with_a_feature_not_built_are_refused_by_name() -> None:
    with pytest.raises(ConfigError) as info:
        _config(
            "--use_alts_credentials",
        )
    message = str(info.value)
    for fragment in ("--use_alts_credentials=true: ALTS credentials are not built",):
        assert fragment in message


def test_reload_and_label_flags_map_to_the_config(tmp_path) -> None:
    """server.cc: --model_config_file_poll_wait_seconds re-reads the config file; labels may
    name unavailable versions with --allow_version_labels_for_unavailable_models."""
    (tmp_path / "m.config").write_text(
        'model_config_list { config { name: "m" base_path: "/models/m" version_labels { key: "stable" value: 2 } } }'
    )
    config = _config(
        f"--model_config_file={tmp_path / 'm.config'}",
        "--model_config_file_poll_wait_seconds=60",
        "--allow_version_labels_for_unavailable_models",
    )
    assert (config.model_config_file, config.model_config_file_format) == (str(tmp_path / "m.config"), "text")
    assert config.model_config_file_poll_wait_seconds == 60
    assert config.allow_version_labels_for_unavailable_models is True
    assert dict(config.models[0].version_labels) == {"stable": 2}


def test_unknown_flag_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown flag.*--rest_port=8501.*has no such flag"):
        _config("--rest_port=8501")


def test_model_config_file_wins_over_model_base_path(tmp_path, caplog) -> None:
    """main.cc: "(If used, --model_name, --model_base_path are ignored.)"."""
    text = tmp_path / "models.config"
    text.write_text("model_config_list { config { name: 'a' base_path: '/a' model_platform: 'tensorflow' } }")
    caplog.set_level(logging.WARNING)
    config = config_from_tf_flags(["--model_name=b", "--model_base_path=/b", f"--model_config_file={text}"])
    assert [(m.name, m.base_path) for m in config.models] == [("a", "/a")]
    assert any("--model_name and --model_base_path are ignored" in r.getMessage() for r in caplog.records)


def test_version_prints_and_exits_0(capsys) -> None:
    """main.cc: display_version prints "TensorFlow ModelServer: ..." and returns 0."""
    assert cli.tensorflow_model_server(["--version"]) == 0
    assert cli.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.count("TensorFlow ModelServer: ie_serving ") == 2 and "OpenVINO Runtime: " in out


def test_tensorflow_model_server_always_takes_tf_flags(capsys) -> None:
    assert cli.tensorflow_model_server(["--rest_api_port=8501"]) == 2
    assert "tensorflow_model_server: error: give either --model_config_file or --model_base_path" in (
        capsys.readouterr().err
    )


class _Service:
    metrics = None

    def status(self, name, version):
        raise ServableNotFound(f"Servable not found for request: Latest({name})")


def _client(cors: bool = False, max_body_mb: int | None = 1):
    return create_app(_Service(), max_body_mb, cors=cors).test_client()


def test_cors_headers_on_every_answer_and_preflight() -> None:
    """http_server.cc: OPTIONS with an http(s) Origin is 200 with no body; headers from
    http_rest_api_util.cc AddCORSHeaders when --rest_api_enable_cors_support."""
    client = _client(cors=True)
    expected = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "POST, GET",
        "Access-Control-Allow-Headers": "Content-Type",
    }
    answer = client.get("/v1/models/m")
    assert answer.status_code == 404
    assert {k: answer.headers.get(k) for k in expected} == expected
    preflight = client.options("/v1/models/m:predict", headers={"Origin": "https://app.example"})
    assert preflight.status_code == 200 and preflight.data == b""
    assert {k: preflight.headers.get(k) for k in expected} == expected
    refused = client.options("/v1/models/m:predict")
    assert refused.status_code == 400 and "Origin header is missing in CORS preflight" in refused.json["error"]
    assert "Access-Control-Allow-Origin" not in _client().get("/v1/models/m").headers


def _read(body: bytes, encoding: str | None = "gzip", max_body_mb: int | None = 1) -> bytes:
    app = create_app(_Service(), max_body_mb)
    headers = {"Content-Encoding": encoding} if encoding else {}
    with app.test_request_context("/v1/models/m:predict", method="POST", data=body, headers=headers):
        return read_body()


def test_gzip_bodies_are_decompressed_within_the_limit() -> None:
    body = b'{"instances": [1.0, 2.0]}'
    assert _read(gzip.compress(body)) == body
    assert _read(gzip.compress(body[:10]) + gzip.compress(body[10:])) == body  # two gzip members
    assert _read(body, None) == body
    assert _read(gzip.compress(body), "x-gzip") == body  # "contains gzip", as evhttp_request.cc
    bomb = gzip.compress(b"0" * (8 * 1024 * 1024))  # 8 MB in about 8 kB, the limit is 1 MB
    assert len(bomb) < 1024 * 1024
    with pytest.raises(PayloadTooLarge, match="its gzip content is over the limit of 1048576 bytes"):
        _read(bomb)
    assert _read(bomb, max_body_mb=None) == b"0" * (8 * 1024 * 1024)


@pytest.mark.parametrize("body", [b"not gzip", gzip.compress(b'{"instances": [1]}')[:-12], b""])
def test_corrupt_gzip_is_invalid_input(body) -> None:
    with pytest.raises(InvalidInput, match="Content-Encoding gzip"):
        _read(body)


def test_batching_flags_map_as_server_cc_reads_them(tmp_path) -> None:
    """server.cc: --enable_batching without a file gets the defaults and the pool name
    model_server_batch_threads; with --batching_parameters_file its text BatchingParameters
    (session_bundle_config.proto); the file without --enable_batching is refused; the
    per-model flag counts only with --enable_batching (main.cc's help)."""
    assert _config().batching is None
    defaults = _config("--enable_batching").batching
    assert defaults is not None and defaults.thread_pool_name == "model_server_batch_threads"
    assert (defaults.max_batch_size, defaults.batch_timeout_micros, defaults.max_enqueued_batches) == (1000, 0, 10)
    path = tmp_path / "batching.config"
    path.write_text(
        "max_batch_size { value: 8 }\nbatch_timeout_micros { value: 1000 }\nmax_enqueued_batches { value: 4 }\n"
        "num_batch_threads { value: 3 }\nallowed_batch_sizes: 4\nallowed_batch_sizes: 8\n"
        "pad_variable_length_inputs: true\n"
    )
    config = _config(
        "--enable_batching=true", f"--batching_parameters_file={path}", "--enable_per_model_batching_parameters"
    )
    assert config.batching is not None and config.per_model_batching is True
    assert (config.batching.max_batch_size, config.batching.batch_timeout_micros) == (8, 1000)
    assert (config.batching.max_enqueued_batches, config.batching.num_batch_threads) == (4, 3)
    assert config.batching.allowed_batch_sizes == (4, 8) and config.batching.pad_variable_length_inputs is True
    assert config.batching.thread_pool_name == "batch_threads"
    assert _config("--enable_per_model_batching_parameters").per_model_batching is False
    with pytest.raises(ConfigError, match="--batching_parameters_file is set without setting --enable_batching"):
        _config(f"--batching_parameters_file={path}")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "max_batch_size { value: 8 } allowed_batch_sizes: 4",
            "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 4; expected 8",
        ),
        ("max_batch_size { value: 8 } allowed_batch_sizes: 8 allowed_batch_sizes: 4", "monotonically increasing"),
        ("max_batch_size { value: 0 }", "max_batch_size: expected an integer >= 1, got 0"),
        ("num_batch_threads { value: 0 }", "num_batch_threads: expected an integer >= 1"),
        ("enable_large_batch_splitting { value: true }", "enable_large_batch_splitting is not built"),
        ("max_batch_size: 8", "1:17"),
    ],
)
def test_a_bad_batching_parameters_file_stops_start_up_naming_the_fault(tmp_path, text, fragment) -> None:
    path = tmp_path / "batching.config"
    path.write_text(text)
    with pytest.raises(ConfigError, match="--batching_parameters_file") as info:
        _config("--enable_batching", f"--batching_parameters_file={path}")
    assert fragment in str(info.value)


def test_ssl_config_file_and_grpc_socket_path_map_to_grpc_tls_and_a_socket(tmp_path) -> None:
    """server.cc BuildServerCredentials: the text SSLConfig holds PEM contents (server_key,
    server_cert, custom_ca) and client_verify; --grpc_socket_path adds "unix:" + path."""
    path = tmp_path / "ssl.config"
    path.write_text('server_key: "KEY\\n" server_cert: "CERT\\n" custom_ca: "CA\\n" client_verify: true')
    config = _config(f"--ssl_config_file={path}", f"--grpc_socket_path={tmp_path / 's.sock'}")
    assert config.grpc_tls == GrpcTls(b"KEY\n", b"CERT\n", b"CA\n", True)
    assert config.grpc_socket_path == str(tmp_path / "s.sock") and config.tls is None
    assert _config().grpc_tls is None and _config().grpc_socket_path is None
    path.write_text('server_key: "KEY" server_cert: "CERT"')
    assert _config(f"--ssl_config_file={path}").grpc_tls == GrpcTls(b"KEY", b"CERT", None, False)
    for text, message in (
        ('server_cert: "CERT"', "server_key empty"),
        ('server_key: "KEY" server_cert: "CERT" client_verify: true', "client_verify: true needs custom_ca"),
        ("server_key: KEY", "--ssl_config_file"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            _config(f"--ssl_config_file={path}")
    with pytest.raises(ConfigError, match="--ssl_config_file: cannot read"):
        _config(f"--ssl_config_file={tmp_path / 'absent'}")
