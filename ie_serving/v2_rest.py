"""The KServe v2 / Open Inference Protocol REST routes (kserve/open-inference-protocol
specification/protocol/inference_rest.md), a Flask blueprint under /v2 that create_app
registers beside TF Serving's /v1 routes, so `ie_serving --rest_port` and `serve`'s port 8080
both answer them. Thin: parse the path and body, call v2_core, encode.

Failures answer `{"error": "<message>"}` through the errors table (KServe's and Triton's body),
with 503 for an overloaded version as Triton answers a full queue (UNAVAILABLE).

Triton's extensions: statistics (`GET /v2/models[/{name}[/versions/{v}]]/stats`) and the model
repository (`POST /v2/repository/index`, `POST /v2/repository/models/{name}/load|unload`,
where the server offers it), with the bodies of extension_statistics.md and
extension_model_repository.md; a load or unload answers 200 with an empty body, as Triton's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ie_serving.errors import Code, InvalidInput, MethodNotAllowed, ServableNotFound
from ie_serving.http_common import deadline, error_response, json_response, read_body, started
from ie_serving.json_body import kind, member_object, parse_object
from ie_serving.service import Call, Service
from ie_serving.v2_core import Dataplane, parse_version
from ie_serving.v2_http import HEADER_LENGTH, V2JsonBody, encode_response

if TYPE_CHECKING:
    from ie_serving.repository import ModelRepository

STATUS_OVERRIDES = {Code.RESOURCE_EXHAUSTED: 503}
PROTOCOL = "v2-rest"
EXPECTED_ROUTES = (
    "expected GET /v2, /v2/health/live, /v2/health/ready, /v2/models/{name}[/versions/{v}][/ready], "
    "/v2/models[/{name}[/versions/{v}]]/stats, POST /v2/models/{name}[/versions/{v}]/infer, "
    "/v2/repository/index or /v2/repository/models/{name}/load|unload"
)


class _Routes:
    """The v2 request handlers bound to one Dataplane."""

    def __init__(self, dataplane: Dataplane, timeout_ms: int | None):
        self.dataplane = dataplane
        self.timeout_ms = timeout_ms

    def _answer(self, method: str, name: str, version: str, body: Callable[[int | None], Response]) -> Response:
        """Run one handler inside a service Call; every failure is answered through the table."""
        try:
            with Call(PROTOCOL, method, name, started=started(), metrics=self.dataplane.service.metrics) as call:
                call.version = parse_version(version)
                return body(call.version)
        except Exception as exc:  # a bug fails this request only
            return error_response(exc, STATUS_OVERRIDES)

    def not_found(self, rest: str) -> Response:
        """404 naming the v2 routes, or 405 with Allow for a route asked with a method it does
        not take (Triton's http_server.cc answers those "Method Not Allowed", 405)."""

        def body(_: int | None) -> Response:
            allowed = _other_methods(request.path, request.method)
            if allowed:
                raise MethodNotAllowed(f"Method Not Allowed: {request.method} /v2/{rest}; {EXPECTED_ROUTES}", allowed)
            raise ServableNotFound(f"Not found: {request.method} /v2/{rest}; {EXPECTED_ROUTES}")

        return self._answer(f"{request.method} /v2/{rest}", "", "", body)

    def server_metadata(self) -> Response:
        return self._answer("ServerMetadata", "", "", lambda _: json_response(self.dataplane.server_metadata()))

    def live(self) -> Response:
        return self._answer("ServerLive", "", "", lambda _: json_response({"live": self.dataplane.live()}))

    def ready(self) -> Response:
        def body(_: int | None) -> Response:
            self.dataplane.check_ready()
            return json_response({"ready": True})

        return self._answer("ServerReady", "", "", body)

    def model_ready(self, name: str, version: str = "") -> Response:
        def body(number: int | None) -> Response:
            self.dataplane.check_model_ready(name, number)
            return json_response({"name": name, "ready": True})

        return self._answer("ModelReady", name, version, body)

    def model_metadata(self, name: str, version: str = "") -> Response:
        return self._answer(
            "ModelMetadata",
            name,
            version,
            lambda number: json_response(dataclasses.asdict(self.dataplane.model_metadata(name, number))),
        )

    def infer(self, name: str, version: str = "") -> Response:
        def body(number: int | None) -> Response:
            decoder = V2JsonBody(read_body(), request.headers.get(HEADER_LENGTH))
            result = self.dataplane.infer(name, number, decoder, deadline(self.timeout_ms))
            content, header_length = encode_response(name, result.version, decoder.request, result.outputs)
            if header_length is None:
                return Response(content, mimetype="application/json")
            answer = Response(content, mimetype="application/octet-stream")
            answer.headers[HEADER_LENGTH] = str(header_length)
            return answer

        return self._answer("ModelInfer", name, version, body)

    def statistics(self, name: str = "", version: str = "") -> Response:
        def body(number: int | None) -> Response:
            return json_response({"model_stats": self.dataplane.statistics(name, number)})

        return self._answer("ModelStatistics", name, version, body)

    def repository_index(self) -> Response:
        def body(_: int | None) -> Response:
            document = _json_object("the repository index request ($repository_index_request)")
            ready = document.get("ready", False)
            if not isinstance(ready, bool):
                raise InvalidInput(f'"ready": expected a boolean, got {kind(ready)}')
            entries = self.dataplane.model_repository().index(ready)
            return json_response([entry.as_dict() for entry in entries])

        return self._answer("RepositoryIndex", "", "", body)

    def repository_load(self, name: str) -> Response:
        def body(_: int | None) -> Response:
            self.dataplane.model_repository().load(
                name, _parameters("the repository load request ($repository_load_request)")
            )
            return Response(b"", mimetype="application/json")

        return self._answer("RepositoryModelLoad", name, "", body)

    def repository_unload(self, name: str) -> Response:
        def body(_: int | None) -> Response:
            self.dataplane.model_repository().unload(
                name, _parameters("the repository unload request ($repository_unload_request)")
            )
            return Response(b"", mimetype="application/json")

        return self._answer("RepositoryModelUnload", name, "", body)


def _other_methods(path: str, method: str) -> tuple[str, ...]:
    """The methods another v2 route takes at `path` (the catch-all route aside)."""
    adapter = current_app.url_map.bind("")
    allowed = []
    for other in ("GET", "POST"):
        if other == method:
            continue
        try:
            endpoint, _ = adapter.match(path, method=other)
        except HTTPException:
            continue
        if not endpoint.endswith(".not_found"):
            allowed.append(other)
    return tuple(allowed)


def _json_object(what: str) -> dict:
    """The request body as a JSON object; an empty body is {} (the extensions' bodies are optional)."""
    return parse_object(read_body(), what, optional=True)


def _parameters(what: str) -> dict[str, object]:
    """The "parameters" object of a load or unload request body."""
    return member_object(_json_object(what).get("parameters"), '"parameters"')


def blueprint(service: Service, timeout_ms: int | None = None, repository: ModelRepository | None = None) -> Blueprint:
    """The /v2 routes over `service`; timeout_ms bounds an inference's wait for an infer request;
    repository: the model repository extension's core (None: its routes answer 501)."""
    routes = _Routes(Dataplane(service, repository), timeout_ms)
    v2 = Blueprint("v2", __name__, url_prefix="/v2")
    v2.add_url_rule("", "server_metadata", routes.server_metadata, methods=["GET"])
    v2.add_url_rule("/health/live", "live", routes.live, methods=["GET"])
    v2.add_url_rule("/health/ready", "ready", routes.ready, methods=["GET"])
    for model, suffix in (("/models/<name>", ""), ("/models/<name>/versions/<version>", "_version")):
        v2.add_url_rule(model, f"model_metadata{suffix}", routes.model_metadata, methods=["GET"])
        v2.add_url_rule(f"{model}/ready", f"model_ready{suffix}", routes.model_ready, methods=["GET"])
        v2.add_url_rule(f"{model}/infer", f"infer{suffix}", routes.infer, methods=["POST"])
        v2.add_url_rule(f"{model}/stats", f"statistics{suffix}", routes.statistics, methods=["GET"])
    v2.add_url_rule("/models/stats", "statistics_all", routes.statistics, methods=["GET"])
    v2.add_url_rule("/repository/index", "repository_index", routes.repository_index, methods=["POST"])
    v2.add_url_rule("/repository/models/<name>/load", "repository_load", routes.repository_load, methods=["POST"])
    v2.add_url_rule("/repository/models/<name>/unload", "repository_unload", routes.repository_unload, methods=["POST"])
    # any other path under /v2 (or a method a route does not take): 404 naming the v2 routes
    v2.add_url_rule("/<path:rest>", "not_found", routes.not_found, methods=["GET", "POST"])
    return v2
