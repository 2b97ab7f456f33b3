"""The contenders: which program serves a model, how the suite starts it, and the rows
(protocol + wire format) each one is measured in. Each service serves one model at a time."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys

from benchmarks.processes import Process, free_port

REPO = pathlib.Path(__file__).resolve().parent.parent
APPS = pathlib.Path(__file__).resolve().parent / "apps"
KSERVE_PYTHON = REPO / ".venv-bench-kserve" / "bin" / "python"
SAGEMAKER_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the results table: a contender in one protocol and wire format."""

    key: str
    label: str
    service: str  # what serves it (SERVICES key), or "inproc"
    kind: str  # grpc, http, inproc or inproc_threads (the load generator's client)
    form: str  # payloads.BUILDERS key ("" for inproc)


ROWS = [
    Row("a", "OpenVINO in-process AsyncInferQueue (limit)", "inproc", "inproc", ""),
    Row("a2", "OpenVINO in-process, a thread per infer request (limit)", "inproc", "inproc_threads", ""),
    Row("b", "bare grpcio echo (transport floor)", "echo", "grpc", "grpc"),
    Row("c", "ie_serving gRPC", "ie_serving", "grpc", "grpc"),
    Row("d-row", "ie_serving REST row", "ie_serving", "http", "rest_row"),
    Row("d-col", "ie_serving REST column", "ie_serving", "http", "rest_column"),
    Row("c-v2", "ie_serving v2 gRPC ModelInfer (raw contents)", "ie_serving", "grpc", "v2_grpc"),
    Row("d-v2bin", "ie_serving v2 REST binary tensors", "ie_serving", "http", "v2_binary"),
    Row("d-v2json", "ie_serving v2 REST JSON", "ie_serving", "http", "v2_json"),
    Row("e-json", "serve /invocations application/json", "serve", "http", "invocations_json"),
    Row("e-npy", "serve /invocations application/x-npy", "serve", "http", "invocations_npy"),
    Row("f", "KServe v1 REST (peer)", "kserve", "http", "kserve_v1"),
    Row("f-v2", "KServe v2 REST JSON (peer)", "kserve", "http", "kserve_v2"),
    Row("g", "naive Flask (baseline)", "flask", "http", "naive_flask"),
]


@dataclasses.dataclass
class Running:
    """A started service: its process and where each client kind reaches it."""

    process: Process
    targets: dict[str, str]  # kind -> host:port (grpc) or base URL (http)


def _python_module(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def start_echo(base: pathlib.Path, name: str, logs: pathlib.Path) -> Running:
    port = free_port()
    process = Process(f"echo-{name}", [sys.executable, str(APPS / "grpc_echo.py"), str(port)], logs)
    return Running(process, {"grpc": f"127.0.0.1:{port}"})


def start_ie_serving(base: pathlib.Path, name: str, logs: pathlib.Path) -> Running:
    """`ie_serving config` with gRPC and REST: one process (gunicorn master + worker)."""
    grpc_port, rest_port = free_port(), free_port()
    config = logs / f"ie_serving-{name}.json"
    config.write_text(json.dumps({"model_config_list": [{"config": {"name": name, "base_path": str(base)}}]}))
    argv = _python_module(
        "ie_serving", "config", "--config_path", str(config), "--port", str(grpc_port), "--rest_port", str(rest_port)
    )
    process = Process(f"ie_serving-{name}", argv, logs, {"LOG_LEVEL": "INFO"})
    return Running(process, {"grpc": f"127.0.0.1:{grpc_port}", "http": f"http://127.0.0.1:{rest_port}"})


def start_serve(base: pathlib.Path, name: str, logs: pathlib.Path) -> Running:
    """The SageMaker `serve` entrypoint with SM_MODEL_DIR holding the model's versions."""
    http_port, grpc_port = free_port(), free_port()
    env = {
        "SM_MODEL_DIR": str(base),
        "SAGEMAKER_BIND_TO_PORT": str(http_port),
        "SAGEMAKER_GRPC_PORT": str(grpc_port),
        "LOG_LEVEL": "INFO",
    }
    process = Process(f"serve-{name}", _python_module("serve"), logs, env)
    return Running(process, {"http": f"http://127.0.0.1:{http_port}"})


def start_kserve(base: pathlib.Path, name: str, logs: pathlib.Path) -> Running:
    port = free_port()
    argv = [
        str(KSERVE_PYTHON),
        str(APPS / "kserve_model.py"),
        str(base / "1" / "model.xml"),
        "--model_name",
        name,
        "--http_port",
        str(port),
        "--enable_grpc",
        "false",
        "--enable_latency_logging",
        "false",
    ]
    return Running(Process(f"kserve-{name}", argv, logs), {"http": f"http://127.0.0.1:{port}"})


def start_flask(base: pathlib.Path, name: str, logs: pathlib.Path) -> Running:
    port = free_port()
    argv = [sys.executable, str(APPS / "naive_flask.py"), str(base / "1" / "model.xml"), str(port)]
    return Running(Process(f"flask-{name}", argv, logs), {"http": f"http://127.0.0.1:{port}"})


SERVICES = {
    "echo": start_echo,
    "ie_serving": start_ie_serving,
    "serve": start_serve,
    "kserve": start_kserve,
    "flask": start_flask,
}


def kserve_available() -> bool:
    return KSERVE_PYTHON.exists()


def serve_available() -> bool:
    """Whether pyproject declares the `serve` console script (contender e)."""
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"].get("scripts", {})
    return "serve" in scripts
