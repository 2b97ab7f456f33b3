"""Prometheus metrics as TF Serving serves them with --monitoring_config_file, scraped from a
running server. The contract is tensorflow/serving's model_servers/server.cc (reads the text
MonitoringConfig), http_server.cc (registers PrometheusExporter on the REST port at
prometheus_config.path; counts every REST request in request_count and records request_latency
with API = the path's verb and entrypoint "REST" when OK), prediction_service_impl.cc (gRPC
Predict: entrypoint "GRPC", API "Predict"; GetModelMetadata and GetModelStatus not counted),
servables/tensorflow/util.cc (the metric definitions, microsecond histograms over
Exponential(10, 1.8, 33)), predict_util.cc (runtime_latency with API "Predict") and
util/prometheus_exporter.cc (the text). SageMaker's /invocations is counted with entrypoint
"SAGEMAKER" when SAGEMAKER_PROMETHEUS_PATH is set."""

from __future__ import annotations

import json

import numpy as np
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests import models
from tests.framework_envs import run_tf
from tests.functional.test_tf_serving_flags import tf_server  # noqa: F401 (fixture)
from tests.sagemaker_helpers import ServeProcess, json_body

PATH = "/monitoring/prometheus/metrics"


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _values(family, suffix: str = "") -> dict[tuple[str, ...], float]:
    """Samples by label values (le left out); prometheus_client's parser names a counter's
    samples NAME_total even where the text (TF Serving's) has no suffix."""
    return {
        tuple(v for k, v in sample.labels.items() if k != "le"): sample.value
        for sample in family.samples
        if sample.name == family.name + suffix
    }


def test_tf_servings_metrics_over_grpc_and_rest(tmp_path, tf_server):  # noqa: F811
    models.save(models.scale_model(), tmp_path / "m")
    config = tmp_path / "monitoring.config"
    config.write_text(f'prometheus_config {{ enable: true, path: "{PATH}" }}\n')
    server = tf_server("--model_name=m", f"--model_base_path={tmp_path / 'm'}", f"--monitoring_config_file={config}")
    # the official client: Predict (counted), GetModelMetadata and GetModelStatus (not counted)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.savez(tmp_path / "in.npz", x=x)
    answer = json.loads(
        run_tf("tf_serving_client.py", server.address, "m", str(tmp_path / "in.npz"), str(tmp_path / "out.npz")).stdout
    )
    assert answer["status"] == [[1, "AVAILABLE"]]
    # REST as TF Serving's api_rest.md shows it: two predicts, a status, an unknown model, a bad body
    for _ in range(2):
        assert requests.post(f"{server.url}/v1/models/m:predict", json={"instances": x.tolist()}).status_code == 200
    assert requests.get(f"{server.url}/v1/models/m").status_code == 200
    assert requests.post(f"{server.url}/v1/models/nope:predict", json={"instances": [[1.0]]}).status_code == 404
    assert requests.post(f"{server.url}/v1/models/m:predict", data=b"{").status_code == 400

    scraped = requests.get(f"{server.url}{PATH}", timeout=10)
    assert scraped.status_code == 200 and scraped.headers["Content-Type"].startswith("text/plain")
    text = scraped.text
    # prometheus_exporter.cc: a TYPE line, no HELP, the counter under its own name (no _total)
    assert "# TYPE :tensorflow:serving:request_count counter\n" in text
    assert ':tensorflow:serving:request_count{model_name="m",status="OK"} 4\n' in text
    assert "# HELP :tensorflow" not in text and ":tensorflow:serving:request_count_total" not in text
    families = _families(text)
    counts = _values(families[":tensorflow:serving:request_count"], "_total")
    assert counts.pop(("_ready_probe", "NOT_FOUND")) >= 1  # the fixture's readiness probes, counted as TF does
    assert counts == {
        ("m", "OK"): 4,
        ("nope", "NOT_FOUND"): 1,
        ("m", "INVALID_ARGUMENT"): 1,
    }
    latency = families[":tensorflow:serving:request_latency"]
    assert _values(latency, "_count") == {
        ("m", "Predict", "GRPC"): 1,
        ("m", "predict", "REST"): 2,
        ("m", "", "REST"): 1,
    }
    buckets = [s for s in latency.samples if s.name.endswith("_bucket") and s.labels["entrypoint"] == "GRPC"]
    assert len(buckets) == 34 and buckets[0].labels["le"] == "10" and buckets[2].labels["le"] == "32.4"
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 1
    assert ':tensorflow:serving:request_latency_bucket{model_name="m",API="Predict",entrypoint="GRPC",le="18"} ' in text
    runtime = families[":tensorflow:serving:runtime_latency"]
    assert _values(runtime, "_count") == {("m", "Predict", "OpenVINO"): 3}
    assert (
        0
        < _values(runtime, "_sum")[("m", "Predict", "OpenVINO")]
        < _values(latency, "_sum")[("m", "Predict", "GRPC")] + _values(latency, "_sum")[("m", "predict", "REST")]
    )
    # what TF Serving lacks, in prometheus-client's own exposition
    state = families["ie_serving_model_version_state"].samples
    assert [(s.labels, s.value) for s in state] == [({"model_name": "m", "version": "1", "state": "AVAILABLE"}, 1)]
    assert _values(families["ie_serving_model_version_load_seconds"])[("m", "1")] > 0
    assert _values(families["ie_serving_requests_in_flight"]) == {("m", "1"): 0}
    assert _values(families["ie_serving_infer_requests_waiting"]) == {("m", "1"): 0}
    assert _values(families["ie_serving_infer_requests"])[("m", "1")] >= 1
    assert _values(families["ie_serving_rejected_requests"], "_total") == {("m", "1"): 0}
    assert _values(families["ie_serving_infer_request_wait_seconds"], "_count") == {("m", "1"): 0}
    # the scrape itself is not a request of the API
    again = _families(requests.get(f"{server.url}{PATH}", timeout=10).text)
    assert _values(again[":tensorflow:serving:request_count"], "_total")[("m", "OK")] == 4


def test_serve_counts_invocations_with_sagemaker_prometheus_path(tmp_path):
    """`serve` with SAGEMAKER_PROMETHEUS_PATH:
    /invocations is a predict (API "predict") with entrypoint "SAGEMAKER"."""
    models.save(models.scale_model(), tmp_path / "model" / "m")
    serve = ServeProcess(
        tmp_path / "model", tmp_path / "serve.log", {"SAGEMAKER_PROMETHEUS_PATH": "/metrics"}
    ).wait_ready(90)
    try:
        for _ in range(3):
            assert serve.invoke(json_body({"instances": [[1.0, 2.0, 3.0, 4.0]]}), "application/json").status_code == 200
        assert serve.invoke(b"not json", "application/json").status_code == 400
        families = _families(requests.get(f"{serve.url}/metrics", timeout=10).text)
    finally:
        serve.stop()
    assert _values(families[":tensorflow:serving:request_count"], "_total") == {
        ("m", "OK"): 3,
        ("m", "INVALID_ARGUMENT"): 1,
    }
    latency = families[":tensorflow:serving:request_latency"]
    assert _values(latency, "_count") == {("m", "predict", "SAGEMAKER"): 3}
