"""metrics.py against TF Serving's exporter: the text tensorflow/serving's
util/prometheus_exporter.cc writes (a `# TYPE` line, no `# HELP`; a counter under its own name,
no `_total`, its value as an integer; histogram limits and `_sum` as absl::StrCat prints a
double, six significant digits; the last bucket `le="+Inf"`), the metrics of
servables/tensorflow/util.cc (`/tensorflow/serving/request_count` {model_name, status},
`request_latency` {model_name, API, entrypoint} and `runtime_latency` {model_name, API,
runtime} in microseconds over Buckets::Exponential(10, 1.8, 33)), and which requests each front
end records (model_servers/prediction_service_impl.cc, http_server.cc)."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ie_serving.errors import Code, ServableNotFound
from ie_serving.metrics import TF_BUCKETS, Metrics
from ie_serving.monitoring import DEFAULT_PATH, prometheus_path
from ie_serving.request_pool import PoolStats, RequestPool
from ie_serving.service import Call, Service
from ie_serving.tensor_spec import Decoded
from tests.stub_versions import Scale, served, store_of


class _Pooled(Scale):
    def pool_stats(self) -> PoolStats:
        return PoolStats(size=2, waiting=1, rejected=3)


def _metrics() -> tuple[Metrics, Service]:
    store = store_of("m", served(1, _Pooled(2.0)))
    metrics = Metrics(store)
    return metrics, Service(store, metrics)


def _decode(_signature_of) -> Decoded:
    return Decoded({"x": np.ones((1, 2), np.float32)}, "", [])


def test_buckets_are_tf_servings_exponential_10_by_1_8() -> None:
    """sampler.cc ExponentialBuckets: bound = scale, then bound *= growth_factor, 33 times."""
    assert len(TF_BUCKETS) == 33
    assert TF_BUCKETS[:4] == (10, 18, 10 * 1.8 * 1.8, 10 * 1.8 * 1.8 * 1.8)
    assert 1e9 < TF_BUCKETS[-1] < 2e9  # "(~20 minutes)" in microseconds


def test_text_is_tf_servings_exporter_output() -> None:
    metrics, service = _metrics()
    for _ in range(2):
        with Call("grpc", "Predict", "m", metrics=metrics):
            service.predict("m", None, _decode)
    with pytest.raises(ServableNotFound), Call("grpc", "Predict", "nope", metrics=metrics):
        service.predict("nope", None, _decode)
    text = metrics.tf_text()
    lines = text.splitlines()
    assert "# HELP" not in text
    assert lines[0] == "# TYPE :tensorflow:serving:request_count counter"
    assert lines[1:3] == [
        ':tensorflow:serving:request_count{model_name="m",status="OK"} 2',
        ':tensorflow:serving:request_count{model_name="nope",status="NOT_FOUND"} 1',
    ]
    assert lines[3] == "# TYPE :tensorflow:serving:request_latency histogram"
    prefix = ':tensorflow:serving:request_latency_bucket{model_name="m",API="Predict",entrypoint="GRPC",'
    assert lines[4].startswith(prefix + 'le="10"} ')
    assert [line.split("le=")[1].split("}")[0] for line in lines[4:38]] == [
        '"10"',
        '"18"',
        '"32.4"',
        '"58.32"',
        '"104.976"',
        '"188.957"',
        *[f'"{limit:.6g}"' for limit in TF_BUCKETS[6:]],
        '"+Inf"',
    ]
    assert lines[37] == prefix + 'le="+Inf"} 2'
    assert lines[38].startswith(
        ':tensorflow:serving:request_latency_sum{model_name="m",API="Predict",entrypoint="GRPC"} '
    )
    assert lines[39] == ':tensorflow:serving:request_latency_count{model_name="m",API="Predict",entrypoint="GRPC"} 2'
    assert lines[40] == "# TYPE :tensorflow:serving:runtime_latency histogram"
    assert lines[-1] == ':tensorflow:serving:runtime_latency_count{model_name="m",API="Predict",runtime="OpenVINO"} 2'
    # Prometheus's own parser reads the page (TF's counter without _total included)
    families = {f.name: f for f in text_string_to_metric_families(metrics.page().decode())}
    assert families[":tensorflow:serving:request_count"].type == "counter"
    assert families[":tensorflow:serving:request_latency"].type == "histogram"


def test_which_requests_are_counted_and_their_labels() -> None:
    """gRPC: Predict/Classify/Regress only, entrypoint GRPC; REST: every /v1 request, API the
    lower-case verb of a POST, "" for a GET; latency only when OK; SageMaker: predict, SAGEMAKER;
    KServe v2: infer only, ModelInfer over gRPC, infer over REST."""
    metrics, _ = _metrics()
    for protocol, method, name, outcome in (
        ("grpc", "GetModelStatus", "m", None),  # not counted by TF Serving
        ("grpc", "GetModelMetadata", "m", None),
        ("http", "GET /nowhere", "", Code.NOT_FOUND),  # Flask's refusal
        ("rest", "GET /nowhere", "", Code.NOT_FOUND),  # outside /v1/
        ("rest", "Predict", "m", None),
        ("rest", "GetModelStatus", "m", None),
        ("rest", "Predict", "m", Code.RESOURCE_EXHAUSTED),
        ("rest", "Malformed", "", Code.INVALID_ARGUMENT),
        ("sagemaker", "Invocations", "m", None),
        ("sagemaker", "LoadModel", "m", None),
        ("grpc", "Regress", "m", Code.UNIMPLEMENTED),
        ("v2-grpc", "ModelInfer", "m", None),
        ("v2-rest", "ModelInfer", "m", None),
        ("v2-rest", "ModelMetadata", "m", None),  # v2 calls other than infer: not counted
        ("v2-grpc", "ServerReady", "", None),
    ):
        call = Call(protocol, method, name, metrics=metrics)
        call.outcome = outcome
        call.finish()
    families = {f.name: f for f in text_string_to_metric_families(metrics.tf_text())}
    counts = {tuple(s.labels.values()): s.value for s in families[":tensorflow:serving:request_count"].samples}
    assert counts == {
        ("m", "OK"): 5,
        ("m", "RESOURCE_EXHAUSTED"): 1,
        ("", "INVALID_ARGUMENT"): 1,
        ("m", "UNIMPLEMENTED"): 1,
    }
    latency = {
        tuple(s.labels.values())
        for s in families[":tensorflow:serving:request_latency"].samples
        if s.name.endswith("_count")
    }
    assert latency == {
        ("m", "predict", "REST"),
        ("m", "", "REST"),
        ("m", "predict", "SAGEMAKER"),
        ("m", "ModelInfer", "GRPC"),
        ("m", "infer", "REST"),
    }


def test_store_gauges_in_prometheus_clients_own_exposition() -> None:
    metrics, _ = _metrics()
    page = metrics.page().decode()
    assert "# HELP ie_serving_requests_in_flight" in page
    families = {f.name: f for f in text_string_to_metric_families(page)}
    state = families["ie_serving_model_version_state"].samples
    assert [(s.labels, s.value) for s in state] == [({"model_name": "m", "version": "1", "state": "AVAILABLE"}, 1)]
    assert families["ie_serving_infer_requests_waiting"].samples[0].value == 1
    assert families["ie_serving_infer_requests"].samples[0].value == 2
    assert families["ie_serving_rejected_requests"].samples[0].name == "ie_serving_rejected_requests_total"
    assert families["ie_serving_rejected_requests"].samples[0].value == 3
    assert families["ie_serving_model_version_load_seconds"].samples[0].value >= 0
    assert families["ie_serving_requests_in_flight"].samples[0].value == 0


def test_pool_counts_waits_rejections_and_timeouts() -> None:
    pool = RequestPool(["r"], max_waiting=1)
    held = pool.take(None)
    with pytest.raises(Exception, match="deadline"):
        pool.take(0.01)
    stats = pool.stats()
    assert (stats.size, stats.waiting, stats.timeouts, stats.count) == (1, 0, 1, 1)
    assert stats.total_seconds >= 0.009 and stats.cumulative[-1] == 1
    pool._waiting = 1  # one caller waits already: the next is refused
    with pytest.raises(Exception, match="already wait"):
        pool.take(1)
    assert pool.stats().rejected == 1
    pool.give(held)


def test_monitoring_config_file(tmp_path) -> None:
    """monitoring_config.proto: prometheus_config { enable, path }; an empty path is
    PrometheusExporter::kPrometheusPath (http_server.cc)."""
    config = tmp_path / "monitoring.config"
    config.write_text('prometheus_config { enable: true, path: "/metrics/x" }')
    assert prometheus_path(str(config)) == "/metrics/x"
    config.write_text("prometheus_config { enable: true }")
    assert prometheus_path(str(config)) == DEFAULT_PATH == "/monitoring/prometheus/metrics"
    config.write_text("prometheus_config { enable: false }")
    assert prometheus_path(str(config)) is None
    config.write_text("prometheus_config { enabled: true }")
    with pytest.raises(Exception, match="enabled"):
        prometheus_path(str(config))


def test_batching_metrics_keep_tf_servings_names_and_buckets() -> None:
    """batching_session.cc: /tensorflow/serving/batching_session/queuing_latency {thread_pool_name}
    over Buckets::Exponential(100, 1.2, 52) microseconds; batching_util.h: input_batch_size and
    processed_batch_size (no labels) over Exponential(1, 2, 14); written first, as the exporter
    orders metrics by name. ie_serving's per-version twins follow in its own exposition."""
    from ie_serving.batching import Batcher
    from ie_serving.batching_config import BatchingParameters

    def run(inputs, outputs):
        return {"y": inputs["x"] * 2}

    batcher = Batcher(run, BatchingParameters(max_batch_size=4, allowed_batch_sizes=(4,), num_batch_threads=1), 0, "m")
    batcher.submit({"x": np.ones((3, 2), np.float32)}, ["y"])
    batcher.close()

    class _Batched(_Pooled):
        def batch_stats(self):
            return batcher.stats()

    metrics = Metrics(store_of("m", served(1, _Batched(2.0))))
    lines = metrics.tf_text().splitlines()
    assert lines[0] == "# TYPE :tensorflow:serving:batching_session:input_batch_size histogram"
    assert ':tensorflow:serving:batching_session:input_batch_size_bucket{le="2"} 0' in lines
    assert ':tensorflow:serving:batching_session:input_batch_size_bucket{le="4"} 1' in lines
    assert ":tensorflow:serving:batching_session:input_batch_size_sum{} 3" in lines
    assert ":tensorflow:serving:batching_session:processed_batch_size_sum{} 4" in lines
    assert ':tensorflow:serving:batching_session:processed_batch_size_bucket{le="8192"} 1' in lines
    queuing = [line for line in lines if line.startswith(":tensorflow:serving:batching_session:queuing_latency_bucket")]
    assert len(queuing) == 53 and queuing[0].startswith(
        ':tensorflow:serving:batching_session:queuing_latency_bucket{thread_pool_name="batch_threads",le="100"}'
    )
    assert lines.index("# TYPE :tensorflow:serving:request_count counter") > len(queuing)
    families = {f.name: f for f in text_string_to_metric_families(metrics.page().decode())}
    sizes = families["ie_serving_batch_size"].samples
    assert any(s.name == "ie_serving_batch_size_sum" and s.labels["version"] == "1" and s.value == 4 for s in sizes)
    assert "ie_serving_batch_queuing_seconds" in families and "ie_serving_batch_queued_requests" in families


def test_runtime_latency_api_is_classify_or_regress_and_multi_inference_records_none() -> None:
    """classifier.cc / regressor.cc RecordRuntimeLatency(model, "Classify"|"Regress", ...);
    multi_inference.cc records no runtime latency."""
    metrics, service = _metrics()
    service.predict("m", None, _decode, runtime_api="Classify")
    service.predict("m", None, _decode, runtime_api="Regress")
    service.predict("m", None, _decode, runtime_api=None)
    service.predict("m", None, _decode)
    counts = [
        line for line in metrics.tf_text().splitlines() if line.startswith(":tensorflow:serving:runtime_latency_count")
    ]
    assert sorted(counts) == [
        ':tensorflow:serving:runtime_latency_count{model_name="m",API="Classify",runtime="OpenVINO"} 1',
        ':tensorflow:serving:runtime_latency_count{model_name="m",API="Predict",runtime="OpenVINO"} 1',
        ':tensorflow:serving:runtime_latency_count{model_name="m",API="Regress",runtime="OpenVINO"} 1',
    ]
