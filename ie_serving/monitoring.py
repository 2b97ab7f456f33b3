"""TF Serving's --monitoring_config_file: a text MonitoringConfig naming the path Prometheus
metrics are served on (tensorflow/serving: config/monitoring_config.proto, read by
model_servers/server.cc; metrics.py serves them). No OpenVINO or Prometheus import here: the
command lines read it before anything heavy loads."""

from __future__ import annotations

from ie_serving.errors import ConfigError
from ie_serving.protos.tensorflow_serving.config import monitoring_config_pb2
from ie_serving.text_proto import read_text_proto

# util/prometheus_exporter.cc PrometheusExporter::kPrometheusPath: the path when none is configured
DEFAULT_PATH = "/monitoring/prometheus/metrics"


def prometheus_path(path: str, flag: str = "--monitoring_config_file") -> str | None:
    """The path to serve metrics on from TF Serving's text MonitoringConfig file, None when
    prometheus_config is absent or not enabled; ConfigError names the file and the fault."""
    expected = f'expected prometheus_config {{ enable: true, path: "{DEFAULT_PATH}" }}'
    config = read_text_proto(path, monitoring_config_pb2.MonitoringConfig(), flag, expected)
    prometheus = config.prometheus_config
    if not prometheus.enable:
        return None
    served = prometheus.path or DEFAULT_PATH
    if not served.startswith("/") or any(c in served for c in "<>?# \t\n"):
        raise ConfigError(
            f"{flag} {path}: prometheus_config.path must be a URL path starting with '/' "
            f"(no spaces, '<', '>', '?' or '#'), got {served!r}"
        )
    return served
