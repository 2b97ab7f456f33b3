"""grpc.health.v1.Health as TF Serving's --enable_grpc_healthcheck_service offers it
(tensorflow_serving/model_servers/server.cc), checked with grpcio-health-checking's own
client stub: the overall service is SERVING once every model has an AVAILABLE version, each
model is a service of its own, and the service is absent without the flag."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests import models

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _check(address: str, service: str) -> int:
    with grpc.insecure_channel(address) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    return answer.status


def test_serving_once_every_model_is_available(tmp_path, start_server):
    models.save(models.scale_model(2.0), tmp_path / "good")
    (tmp_path / "broken" / "1").mkdir(parents=True)
    (tmp_path / "broken" / "1" / "model.xml").write_text("<not a model>")
    (tmp_path / "broken" / "1" / "model.bin").write_bytes(b"\0" * 8)
    (tmp_path / "models.config").write_text(
        f'model_config_list {{ config {{ name: "good" base_path: "{tmp_path / "good"}" }} '
        f'config {{ name: "broken" base_path: "{tmp_path / "broken"}" }} }}'
    )
    both = start_server("--model_config_file", str(tmp_path / "models.config"), "--enable_grpc_healthcheck_service")
    assert _check(both.address, "good") == SERVING
    assert _check(both.address, "broken") == NOT_SERVING
    assert _check(both.address, "") == NOT_SERVING  # one model has no AVAILABLE version
    with pytest.raises(grpc.RpcError) as unknown:
        _check(both.address, "nope")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

    good = start_server(
        "--model_name", "good", "--model_base_path", str(tmp_path / "good"), "--enable_grpc_healthcheck_service"
    )
    assert _check(good.address, "") == SERVING


def test_no_health_service_without_the_flag(tmp_path, start_server):
    models.save(models.scale_model(2.0), tmp_path / "m")
    server = start_server("--model_name", "m", "--model_base_path", str(tmp_path / "m"))
    with pytest.raises(grpc.RpcError) as missing:
        _check(server.address, "")
    assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED
