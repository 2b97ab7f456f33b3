"""SageMaker's routes beside the TF Serving REST routes: GET /ping and POST /invocations
(plus the multi-model /models routes of multi_model.py when they are on).

/invocations picks the model from X-Amzn-SageMaker-Target-Model, else from
X-Amzn-SageMaker-Custom-Attributes (tfs-model-name; also tfs-model-version, tfs-method),
decodes the body by Content-Type (content.py; TF Serving's classify/regress JSON for
tfs-method=classify|regress), runs the protocol-free Service and answers in
the Accept type; custom handlers wrap that when present.
Failures answer TF Serving's `{"error": message}` through the errors table, with 503 for
RESOURCE_EXHAUSTED (STATUS_OVERRIDES).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import grpc
from flask import Blueprint, Flask, Response, request

from ie_serving import http_common, json_examples
from ie_serving.errors import Code, InferenceFailed, InvalidInput, ServingError, answer
from ie_serving.http_common import error_response, json_response, read_body, started
from ie_serving.json_tensors import encode_predict
from ie_serving.rest_api import EXPECTED_ROUTES, create_app
from ie_serving.service import Call, Service
from serve import content
from serve.custom_code import Answer, Context, CustomCode

if TYPE_CHECKING:
    from ie_serving.repository import ModelRepository

log = logging.getLogger(__name__)

ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
# tfs-method: the TF Serving REST verb AWS's container posts the body to (tfs_utils.py make_tfs_uri)
METHODS = ("predict", "classify", "regress")
TARGET_MODEL_HEADER = "X-Amzn-SageMaker-Target-Model"
_ATTRIBUTE = re.compile(r"(tfs-[a-z\-]+)=([^,]+)")


@dataclasses.dataclass(frozen=True)
class Target:
    """The model an /invocations request asks for."""

    name: str
    version: int | None
    method: str


def target(header: str | None, default_model: str | None, models: list[str], model: str | None = None) -> Target:
    """The model, version and method from the custom attributes header (AWS's parsing);
    `model` (the multi-model route's or target-model header's name) comes before tfs-model-name."""
    attributes = {key: value.strip() for key, value in _ATTRIBUTE.findall(header or "")}
    name = model or attributes.get("tfs-model-name") or default_model
    if name is None:
        raise InvalidInput(
            f"several models and no default: name one with {ATTRIBUTES_HEADER}: tfs-model-name=NAME; models: {models}"
        )
    version_text = attributes.get("tfs-model-version")
    if version_text is not None and not (version_text.isascii() and version_text.isdigit()):
        raise InvalidInput(f"tfs-model-version: expected a version number, got {version_text!r}")
    method = attributes.get("tfs-method", "predict")
    if method not in METHODS:
        raise InvalidInput(f"Malformed request: tfs-method={method}; expected one of {', '.join(METHODS)}")
    version = int(version_text) if version_text else None
    return Target(name, version or None, method)  # 0 means the latest, as for gRPC clients


# An overloaded server answers 503, which SageMaker reads as "retry this instance later", not 429.
STATUS_OVERRIDES = {Code.RESOURCE_EXHAUSTED: 503}
ROUTES_HINT = f"expected GET /ping, POST /invocations, or TF Serving's REST API: {EXPECTED_ROUTES}"


class _Invocations:
    """The SageMaker routes bound to one Service."""

    def __init__(self, service: Service, default_model: str | None, code: CustomCode | None, ports: tuple[int, int]):
        self.service = service
        self.default_model = default_model
        self.code = code
        self.http_port, self.grpc_port = ports

    @functools.cached_property
    def channel(self) -> grpc.Channel:
        """A gRPC channel to this server, for custom code (made on its first use)."""
        return grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")

    def ping(self) -> Response:
        """200 once every configured model has an AVAILABLE version; never waits on inference."""
        return Response(status=200 if self.service.store.all_available() else 503)

    def invocations(self) -> Response:
        """POST /invocations: the model of X-Amzn-SageMaker-Target-Model when sent."""
        return self.invoke(request.headers.get(TARGET_MODEL_HEADER) or None)

    def invoke(self, model: str | None, model_code: Callable[[str], CustomCode | None] | None = None) -> Response:
        """Answer the request for `model` (None: from the custom attributes or the default).
        model_code(name) (multi-model endpoints) raises when the model may not be invoked (not
        loaded) and gives its own custom code, which wins over the endpoint's universal code."""
        try:
            with Call("sagemaker", "Invocations", started=started(), metrics=self.service.metrics) as call:
                chosen = target(
                    request.headers.get(ATTRIBUTES_HEADER), self.default_model, sorted(self.service.store.models), model
                )
                call.name, call.version = chosen.name, chosen.version
                code = self.code
                if model_code is not None:
                    code = model_code(chosen.name) or code
                body = read_body()
                if code is not None:
                    return self._custom(code, chosen, body)
                if chosen.method != "predict":
                    return Response(self._predict_json(chosen, _content_type(), body), mimetype=content.JSON)
                kind = content.answer_type(request.headers.get("Accept"))
                decoder = content.decoder(_content_type(), body)
                result = self.service.predict(chosen.name, chosen.version, decoder)
                return Response(content.encode(decoder.form, result.outputs, kind), content_type=kind)
        except Exception as exc:  # every failure is answered; a bug fails this request only
            return error_response(exc, STATUS_OVERRIDES)

    def _predict_json(self, chosen: Target, content_type: str, body: bytes) -> bytes:
        """The model's JSON answer for a body of `content_type`: TF Serving's classify/regress
        JSON for tfs-method=classify|regress (AWS's container posts the body to that REST verb)."""
        if chosen.method != "predict":
            if content_type != content.JSON:
                raise InvalidInput(
                    f"tfs-method={chosen.method} takes TF Serving's {chosen.method} JSON "
                    f'({{"examples": [...]}}) as {content.JSON}, got Content-Type {content_type}'
                )
            examples = json_examples.decoder(body, chosen.method)
            result = self.service.predict(chosen.name, chosen.version, examples, runtime_api=examples.runtime_api)
            return json_examples.encode_results(examples.results(result.outputs)[0])
        decoder = content.decoder(content_type, body)
        result = self.service.predict(chosen.name, chosen.version, decoder)
        return encode_predict(decoder.form, result.outputs)

    def _custom(self, code: CustomCode, chosen: Target, body: bytes) -> Response:
        """Run the custom handlers. The model's failure reaches an output_handler as its answer,
        and is the request's answer without one; a handler that raises is a 500 naming its exception."""
        context = self._context(chosen)
        if code.handler is not None:
            answer_body, answer_type = _run_handler(code.handler, io.BytesIO(body), context)
            return Response(answer_body, mimetype=answer_type)
        if code.input_handler is not None:
            request_body = _run_handler(code.input_handler, io.BytesIO(body), context)
            request_body = request_body.encode() if isinstance(request_body, str) else request_body
            request_type = content.JSON
        else:
            request_body, request_type = body, context.request_content_type
        if code.output_handler is None:
            return Response(self._predict_json(chosen, request_type, request_body), mimetype=content.JSON)
        try:
            model_answer = Answer(200, self._predict_json(chosen, request_type, request_body))
        except ServingError as exc:
            failure = answer(exc, STATUS_OVERRIDES)
            model_answer = Answer(failure.http_status, failure.json_body())
        answer_body, answer_type = _run_handler(code.output_handler, model_answer, context)
        return Response(answer_body, mimetype=answer_type)

    def _context(self, chosen: Target) -> Context:
        version = f"/versions/{chosen.version}" if chosen.version else ""
        return Context(
            model_name=chosen.name,
            model_version=str(chosen.version) if chosen.version else None,
            method=chosen.method,
            rest_uri=f"http://127.0.0.1:{self.http_port}/v1/models/{chosen.name}{version}:{chosen.method}",
            grpc_port=self.grpc_port,
            channel=self.channel,
            custom_attributes=request.headers.get(ATTRIBUTES_HEADER),
            request_content_type=_content_type(),
            accept_header=request.headers.get("Accept") or content.JSON,
            content_length=request.content_length,
        )


def _content_type() -> str:
    return content.media_type(request.content_type) or content.JSON


def _run_handler(handler: Callable, data: object, context: Context):  # noqa: ANN202 (whatever the handler returns)
    """Call custom code; anything it raises becomes InferenceFailed (500) naming the exception."""
    try:
        return handler(data, context)
    except Exception as exc:
        log.exception(
            "custom handler %s failed for model %s", getattr(handler, "__name__", handler), context.model_name
        )
        raise InferenceFailed(f"{type(exc).__name__}: {exc}") from None


def create_sagemaker_app(
    service: Service,
    max_body_mb: int | None,
    default_model: str | None,
    code: CustomCode | None,
    ports: tuple[int, int],
    multi_model: Callable[[Callable[..., Response]], Blueprint] | None = None,
    execution_parameters: Mapping[str, object] | None = None,
    repository: ModelRepository | None = None,
) -> Flask:
    """The TF Serving REST app with SageMaker's /ping and /invocations added as a blueprint;
    `multi_model(invoke)` makes the /models blueprint, given how to answer for one model;
    repository: the v2 model repository extension's core."""
    app = create_app(service, max_body_mb, "SAGEMAKER_MAX_PAYLOAD_IN_MB", repository=repository)
    app.config[http_common.ROUTES_HINT] = ROUTES_HINT
    routes = _Invocations(service, default_model, code, ports)
    blueprint = Blueprint("sagemaker", __name__)
    blueprint.add_url_rule("/ping", "ping", routes.ping, methods=["GET"])
    blueprint.add_url_rule("/invocations", "invocations", routes.invocations, methods=["POST"])
    if execution_parameters is not None:  # Batch Transform asks for these before it sends
        parameters = dict(execution_parameters)
        blueprint.add_url_rule(
            "/execution-parameters", "execution_parameters", lambda: json_response(parameters), methods=["GET"]
        )
    app.register_blueprint(blueprint)
    if multi_model is not None:
        app.register_blueprint(multi_model(routes.invoke))
    return app
