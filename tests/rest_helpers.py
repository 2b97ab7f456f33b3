"""A real server with its REST port open, for the REST tests: started like tests.server does,
ready once gRPC accepts connections and the REST port answers HTTP (tests/processes.py)."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterable, Mapping

import requests
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.processes import free_port, http_answers
from tests.server import ServerProcess


class RestServer(ServerProcess):
    """`ie_serving ARGS --rest_port R --port P`; `url` is the REST base URL."""

    verify: bool | str = True  # requests' verify for an HTTPS server: the CA file to trust

    def __init__(self, args: list[str], log_path: pathlib.Path, env: dict[str, str] | None = None):
        self.rest_port = free_port()
        self.url = f"http://127.0.0.1:{self.rest_port}"
        super().__init__([*args, "--rest_port", str(self.rest_port)], log_path, env)

    def wait_ready(self, timeout: float = 60.0) -> RestServer:
        super().wait_ready(timeout)
        probe = f"{self.url}/v1/models/_ready_probe"
        return self.wait_for(lambda: http_answers(probe, timeout=1, verify=self.verify)(), timeout, "answering on REST")


METRICS_PATH = "/monitoring/prometheus/metrics"


def metrics_flags(directory: pathlib.Path) -> tuple[list[str], int]:
    """Flags for a REST port serving Prometheus metrics at METRICS_PATH (TF Serving's
    --monitoring_config_file, written into `directory`), and that port."""
    config = directory / "monitoring.config"
    config.write_text(f'prometheus_config {{ enable: true, path: "{METRICS_PATH}" }}\n')
    port = free_port()
    return ["--rest_port", str(port), "--monitoring_config_file", str(config)], port


def metric_samples(rest_port: int) -> dict[str, list[Sample]]:
    """The server's Prometheus metrics at METRICS_PATH: each family's samples by its name."""
    text = requests.get(f"http://127.0.0.1:{rest_port}{METRICS_PATH}", timeout=10).text
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def processed_batch_counts(rest_port: int) -> dict[str, float]:
    """TF Serving's batching metric processed_batch_size: its "sum" and "count" over every model
    (neither before the first batch)."""
    found: dict[str, float] = {}
    for sample in metric_samples(rest_port).get(":tensorflow:serving:batching_session:processed_batch_size", []):
        if sample.name.endswith(("_count", "_sum")):
            part = sample.name.rsplit("_", 1)[1]
            found[part] = found.get(part, 0.0) + sample.value
    return found


def write_config(path: pathlib.Path, entries: Iterable[Mapping[str, object]]) -> pathlib.Path:
    """A config file listing the given model entries."""
    path.write_text(json.dumps({"model_config_list": [{"config": dict(e)} for e in entries]}))
    return path


def assert_error(response: requests.Response, status: int, *fragments: str) -> str:
    """The answer is TF Serving's JSON error with this status, naming every fragment."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str), body
    for fragment in fragments:
        assert fragment in body["error"], (fragment, body["error"])
    return body["error"]
