"""Prometheus metrics, fed from the one request point (`service.Call.finish`) and read from the
store at scrape time; served on the REST port when `--monitoring_config_file` asks for them.

TF Serving's own metrics keep its names and its exporter's text exactly, so existing dashboards
keep working (tensorflow/serving: servables/tensorflow/util.cc defines them,
util/prometheus_exporter.cc writes them): `/tensorflow/serving/request_count` becomes
`:tensorflow:serving:request_count`, a `# TYPE` line and no `# HELP`, counters without a
`_total` suffix and printed as integers, histogram limits and sums printed as C's `%g`
(`le="32.4"`, `le="+Inf"` for the last). Their values live in prometheus-client metrics; only
the text is written here.

What TF Serving lacks and operators need follows under `ie_serving_` names in
prometheus-client's own exposition (HELP lines, `_total` counters, seconds): requests in flight
and waiting for an infer request, the wait, rejected requests, load time and state per version.
Those are read from the store when scraped, so they cost a request nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from ie_serving.batching import BatchStats
from ie_serving.histogram import HistogramSnapshot, exponential
from ie_serving.versions import State

if TYPE_CHECKING:
    from ie_serving.store import ModelStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RUNTIME = "OpenVINO"  # the runtime label of runtime_latency (TF Serving's are "TF1" and "TFRT")
# runtime_latency's API label: predict_util.cc records "Predict" from every front end, classifier.cc
# "Classify" and regressor.cc "Regress" (MultiInference records none)
PREDICT_API = "Predict"


# util.cc: "Scale of 10, power of 1.8 with bucket count 33 (~20 minutes)", in microseconds
TF_BUCKETS = exponential(10, 1.8, 33)

# Which requests TF Serving counts, with its API and entrypoint labels, by (protocol, method)
# of the Call. gRPC: Predict, Classify and Regress (prediction_service_impl.cc; GetModelMetadata,
# GetModelStatus and MultiInference record nothing), entrypoint "GRPC". REST: every request
# under /v1/ (http_server.cc ProcessRequest), API the path's verb in lower case for a POST and
# "" otherwise (http_rest_api_handler.cc leaves `method` empty for a GET), entrypoint "REST".
# SageMaker's /invocations (and a multi-model endpoint's invoke) is a predict: API "predict"
# as REST's, entrypoint "SAGEMAKER" (AWS's container turns it into a REST call; its own name
# keeps the two apart on a dashboard). KServe v2's infer, the one v2 call that is a predict, is
# counted with its own API name ("ModelInfer" over gRPC, the URL's "infer" over REST) and the
# transport's entrypoint. Anything else (Flask's own refusals, paths outside /v1/, v2 health,
# metadata and extensions, multi-model management) is not counted, as TF Serving counts no such call.
TF_LABELS: dict[tuple[str, str], tuple[str, str]] = {
    **{("grpc", api): (api, "GRPC") for api in ("Predict", "Classify", "Regress")},
    **{("rest", verb): (verb.lower(), "REST") for verb in ("Predict", "Classify", "Regress")},
    **{("rest", method): ("", "REST") for method in ("GetModelStatus", "GetModelMetadata", "Malformed", "OPTIONS")},
    ("sagemaker", "Invocations"): ("predict", "SAGEMAKER"),
    ("v2-grpc", "ModelInfer"): ("ModelInfer", "GRPC"),
    ("v2-rest", "ModelInfer"): ("infer", "REST"),
}

WAIT_HELP = "Seconds a request waited for a free infer request, counting only the requests that found all busy."


def _escape(value: str) -> str:
    """prometheus_exporter.cc SanitizeLabelValue (backslash, double quote), and newlines."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _g(value: float) -> str:
    """A double as absl::StrCat writes it (six significant digits, %g)."""
    return f"{value:.6g}"


class Metrics:
    """The metrics of one store: TF Serving's request metrics, recorded per request, and the
    store's own gauges, read when scraped. Label children are cached per label values, so a
    request costs a dict lookup and prometheus-client's increments."""

    def __init__(self, store: ModelStore):
        self.store = store
        self._request_count = Counter("request_count", "", ("model_name", "status"), registry=None)
        self._request_latency = Histogram(
            "request_latency", "", ("model_name", "API", "entrypoint"), buckets=TF_BUCKETS, registry=None
        )
        self._runtime_latency = Histogram(
            "runtime_latency", "", ("model_name", "API", "runtime"), buckets=TF_BUCKETS, registry=None
        )
        self._counts: dict[tuple[str, str], object] = {}
        self._latencies: dict[tuple[str, str, str], object] = {}
        self._runtimes: dict[tuple[str, str], object] = {}
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(StoreCollector(store))

    def request(self, protocol: str, method: str, name: str, status: str, started: float) -> None:
        """One finished request (Call.finish): request_count always, request_latency when OK,
        as TF Serving records them; requests TF Serving does not count are skipped."""
        labels = TF_LABELS.get((protocol, method))
        if labels is None:
            return
        key = (name, status)
        count = self._counts.get(key)
        if count is None:
            count = self._counts.setdefault(key, self._request_count.labels(name, status))
        count.inc()  # type: ignore[attr-defined]
        if status == "OK":
            latency_key = (name, *labels)
            latency = self._latencies.get(latency_key)
            if latency is None:
                latency = self._latencies.setdefault(latency_key, self._request_latency.labels(*latency_key))
            latency.observe((time.perf_counter() - started) * 1e6 // 1)  # type: ignore[attr-defined]

    def runtime(self, name: str, seconds: float, api: str = PREDICT_API) -> None:
        """The time one successful inference took (Service.predict, around compiled.infer)."""
        child = self._runtimes.get((name, api))
        if child is None:
            child = self._runtimes.setdefault((name, api), self._runtime_latency.labels(name, api, RUNTIME))
        child.observe(seconds * 1e6 // 1)  # type: ignore[attr-defined]

    def page(self) -> bytes:
        """The whole scrape: TF Serving's metrics in its exporter's text, then ie_serving's."""
        return self.tf_text().encode() + generate_latest(self._registry)

    def tf_text(self) -> str:
        """TF Serving's three request metrics as util/prometheus_exporter.cc writes them, in the
        order of its metric map (by name: the batching metrics, when a version batches, first),
        points ordered by their label values."""
        lines: list[str] = []
        _batching_lines(self.store, lines)  # /tensorflow/serving/batching_session/... sort first
        lines.append("# TYPE :tensorflow:serving:request_count counter")
        for labels, value in sorted(_counter_points(self._request_count)):
            lines.append(f":tensorflow:serving:request_count{{{_label_text(labels)}}} {int(value)}")
        _histogram_lines(":tensorflow:serving:request_latency", self._request_latency, lines)
        _histogram_lines(":tensorflow:serving:runtime_latency", self._runtime_latency, lines)
        return "\n".join(lines) + "\n"


def _label_text(labels: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f'{name}="{_escape(value)}"' for name, value in labels)


def _counter_points(counter: Counter) -> Iterator[tuple[tuple[tuple[str, str], ...], float]]:
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                yield tuple(sample.labels.items()), sample.value


def _histogram_lines(name: str, histogram: Histogram, lines: list[str]) -> None:
    """A prometheus-client histogram in TF Serving's exporter's text (_snapshot_lines)."""
    points: dict[tuple[tuple[str, str], ...], dict] = {}
    for metric in histogram.collect():
        for sample in metric.samples:
            labels = tuple((k, v) for k, v in sample.labels.items() if k != "le")
            point = points.setdefault(labels, {"buckets": [], "sum": 0.0, "count": 0})
            if sample.name.endswith("_bucket"):
                point["buckets"].append(sample.value)
            elif sample.name.endswith("_sum"):
                point["sum"] = sample.value
            elif sample.name.endswith("_count"):
                point["count"] = sample.value
    snapshots = {
        labels: HistogramSnapshot(TF_BUCKETS, tuple(p["buckets"][:-1]), int(p["count"]), p["sum"])
        for labels, p in points.items()
    }
    _snapshot_lines(name, snapshots, lines)


def _snapshot_lines(
    name: str, points: Mapping[tuple[tuple[str, str], ...], HistogramSnapshot], lines: list[str]
) -> None:
    """prometheus_exporter.cc SerializeHistogram: cumulative buckets with TF's limits, the
    last as +Inf, then _sum (%g) and _count."""
    lines.append(f"# TYPE {name} histogram")
    for labels in sorted(points):
        point, text = points[labels], _label_text(labels)
        prefix = f"{name}_bucket{{{text}{',' if text else ''}"
        for limit, cumulative in zip(point.limits, point.cumulative, strict=True):
            lines.append(f'{prefix}le="{_g(limit)}"}} {int(cumulative)}')
        lines.append(f'{prefix}le="+Inf"}} {int(point.count)}')
        lines.append(f"{name}_sum{{{text}}} {_g(point.total)}")
        lines.append(f"{name}_count{{{text}}} {int(point.count)}")


def _batching_lines(store: ModelStore, lines: list[str]) -> None:
    """TF Serving's batching metrics, summed over the versions that batch (none: not written):
    batching_session.cc's queuing_latency {thread_pool_name} (microseconds from a request's
    enqueue to its batch's start) and batching_util.h's input_batch_size and
    processed_batch_size (rows per batch before and after padding to an allowed size)."""
    queuing: dict[tuple[tuple[str, str], ...], HistogramSnapshot] = {}
    sizes: dict[str, HistogramSnapshot] = {}
    for _, _, stats in _batch_stats(store):
        key = (("thread_pool_name", stats.thread_pool_name),)
        queuing[key] = queuing[key] + stats.queuing_micros if key in queuing else stats.queuing_micros
        for metric, snapshot in (("input", stats.input_batch_size), ("processed", stats.processed_batch_size)):
            sizes[metric] = sizes[metric] + snapshot if metric in sizes else snapshot
    if not sizes:
        return
    _snapshot_lines(":tensorflow:serving:batching_session:input_batch_size", {(): sizes["input"]}, lines)
    _snapshot_lines(":tensorflow:serving:batching_session:processed_batch_size", {(): sizes["processed"]}, lines)
    _snapshot_lines(":tensorflow:serving:batching_session:queuing_latency", queuing, lines)


def _batch_stats(store: ModelStore) -> Iterator[tuple[str, int, BatchStats]]:
    """(model, version, batching counts) of every version that batches and still holds its model."""
    for name, model in sorted(store.models.items()):
        for number, served in sorted(model.versions.items()):
            compiled = served.compiled
            if compiled is None or served.state not in (State.AVAILABLE, State.UNLOADING):
                continue
            stats = compiled.batch_stats()
            if stats is not None:
                yield name, number, stats


class StoreCollector(Collector):
    """ie_serving's gauges and counters per model version, read from the store when scraped."""

    def __init__(self, store: ModelStore):
        self.store = store

    def collect(self) -> Iterator[object]:
        labels = ["model_name", "version"]
        in_flight = GaugeMetricFamily(
            "ie_serving_requests_in_flight",
            "Requests holding a version (predict, metadata) right now, from the version's lease to the answer.",
            labels=labels,
        )
        waiting = GaugeMetricFamily(
            "ie_serving_infer_requests_waiting",
            "Requests waiting right now for a free infer request of the version (at most --max_queued_requests).",
            labels=labels,
        )
        infer_requests = GaugeMetricFamily(
            "ie_serving_infer_requests", "Infer requests of the version (nireq; the batch-1 copy's too).", labels=labels
        )
        waits = HistogramMetricFamily("ie_serving_infer_request_wait_seconds", WAIT_HELP, labels=labels)
        rejected = CounterMetricFamily(
            "ie_serving_rejected_requests",
            "Requests refused because --max_queued_requests requests already waited for an infer request "
            "(RESOURCE_EXHAUSTED, HTTP 429; 503 under SageMaker).",
            labels=labels,
        )
        timeouts = CounterMetricFamily(
            "ie_serving_infer_request_wait_timeouts",
            "Requests whose deadline passed while they waited for an infer request (DEADLINE_EXCEEDED).",
            labels=labels,
        )
        load_seconds = GaugeMetricFamily(
            "ie_serving_model_version_load_seconds",
            "Seconds the version's last load attempt took (read, compile, warmup).",
            labels=labels,
        )
        state = GaugeMetricFamily(
            "ie_serving_model_version_state",
            "1 for the version's current state (TF Serving's states: START, LOADING, AVAILABLE, UNLOADING, END).",
            labels=[*labels, "state"],
        )
        batch_sizes = HistogramMetricFamily(
            "ie_serving_batch_size",
            "Rows per batch run for the version with server-side batching (after padding to an allowed batch size).",
            labels=labels,
        )
        batch_queuing = HistogramMetricFamily(
            "ie_serving_batch_queuing_seconds",
            "Seconds a request waited in the version's batching queue before its batch started.",
            labels=labels,
        )
        batch_queued = GaugeMetricFamily(
            "ie_serving_batch_queued_requests",
            "Requests waiting now in the version's batching queue.",
            labels=labels,
        )
        for name, number, stats in _batch_stats(self.store):
            values = [name, str(number)]
            batch_queued.add_metric(values, stats.queued)
            _add_histogram(batch_sizes, values, stats.processed_batch_size)
            _add_histogram(batch_queuing, values, stats.queuing_micros, 1e-6)
        for name, model in sorted(self.store.models.items()):
            for number, served in sorted(model.versions.items()):
                values = [name, str(number)]
                state.add_metric([*values, State(served.state).name], 1)
                if served.load_seconds is not None:
                    load_seconds.add_metric(values, served.load_seconds)
                compiled = served.compiled
                if compiled is None or served.state not in (State.AVAILABLE, State.UNLOADING):
                    continue
                in_flight.add_metric(values, served.in_flight)
                stats = compiled.pool_stats()
                waiting.add_metric(values, stats.waiting)
                infer_requests.add_metric(values, stats.size)
                batch = compiled.batch_stats()
                rejected.add_metric(values, stats.rejected + (batch.rejected if batch else 0))
                timeouts.add_metric(values, stats.timeouts + (batch.timeouts if batch else 0))
                buckets = [(_g(limit), count) for limit, count in zip(stats.limits, stats.cumulative, strict=True)]
                waits.add_metric(values, [*buckets, ("+Inf", stats.count)], stats.total_seconds)
        yield from (in_flight, waiting, infer_requests, waits, rejected, timeouts, load_seconds, state)
        yield from (batch_sizes, batch_queuing, batch_queued)


def _add_histogram(
    family: HistogramMetricFamily, values: list[str], snapshot: HistogramSnapshot, scale: float = 1.0
) -> None:
    buckets = [(_g(limit * scale), count) for limit, count in zip(snapshot.limits, snapshot.cumulative, strict=True)]
    family.add_metric(values, [*buckets, ("+Inf", snapshot.count)], snapshot.total * scale)


def mount(app: object, metrics: Metrics, path: str) -> None:
    """Serve `metrics` at `path` on a Flask app (TF Serving's http_server.cc registers the
    exporter's path before the REST dispatcher; a Flask rule without variables wins over the
    API's catch-all the same way)."""
    from flask import Response

    def scrape() -> Response:
        return Response(metrics.page(), mimetype=None, content_type=CONTENT_TYPE)

    app.add_url_rule(path, "prometheus_metrics", scrape, methods=["GET"])  # type: ignore[attr-defined]
