"""Readiness of the served models, for gRPC's standard health service (grpc.health.v1.Health,
from grpcio-health-checking, as TF Serving's --enable_grpc_healthcheck_service offers it).

The overall service ("") is SERVING once every configured model has an AVAILABLE version, and
each model's name is a service of its own, SERVING while it has one; NOT_SERVING otherwise, and
for everything once shutdown begins. The runtime calls `update()` after each reconciliation.
"""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2

from ie_serving.store import ModelStore
from ie_serving.versions import State

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class ModelHealth:
    """The health servicer and what feeds it from the store."""

    def __init__(self, store: ModelStore):
        self.store = store
        self.servicer = health.HealthServicer()
        self._names: set[str] = set()
        self.update()

    def update(self) -> None:
        """Set every model's status, and the overall one, from the store as it is now."""
        models = dict(self.store.models)
        for name in self._names - set(models):
            self.servicer.set(name, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
        for name, model in models.items():
            available = any(s.state == State.AVAILABLE for s in model.versions.values())
            self.servicer.set(name, SERVING if available else NOT_SERVING)
        self._names = set(models)
        self.servicer.set("", SERVING if self.store.all_available() else NOT_SERVING)

    def shutting_down(self) -> None:
        """Every service NOT_SERVING from now on (load balancers stop sending)."""
        self.servicer.enter_graceful_shutdown()
