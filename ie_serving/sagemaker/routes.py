"""SageMaker's routes beside the TF Serving REST routes: GET /ping and POST /invocations
(plus the multi-model /models routes of multi_model.py when they are on).

/invocations picks the model from X-Amzn-SageMaker-Target-Model, else from
X-Amzn-SageMaker-Custom-Attributes (tfs-model-name; also tfs-model-version, tfs-method),
decodes the body by Content-Type (content.py), runs the protocol-free Service and answers in
the Accept type; custom handlers wrap that when present.
Failures answer TF Serving's `{"error": message}` with the status of errors.Code.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import time
from collections.abc import Callable

import grpc
import orjson
from flask import Blueprint, Flask, Response, request

from ie_serving.errors import Code, InvalidInput, ServingError, Unimplemented
from ie_serving.json_tensors import encode_predict
from ie_serving.rest_api import BODY_LIMIT_SETTING, create_app, read_body
from ie_serving.sagemaker import content
from ie_serving.sagemaker.handlers import Answer, Context, CustomCode
from ie_serving.service import Service, log_request

log = logging.getLogger(__name__)

ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
TARGET_MODEL_HEADER = "X-Amzn-SageMaker-Target-Model"
_ATTRIBUTE = re.compile(r"(tfs-[a-z\-]+)=([^,]+)")


@dataclasses.dataclass(frozen=True)
class Target:
    """The model an /invocations request asks for."""

    name: str
    version: int | None
    method: str


def _json_error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status=status, mimetype="application/json")


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
    if version_text is not None and not version_text.isdigit():
        raise InvalidInput(f"tfs-model-version: expected a version number, got {version_text!r}")
    method = attributes.get("tfs-method", "predict")
    if method != "predict":
        raise Unimplemented(f"tfs-method={method} is not supported by this server; use tfs-method=predict")
    version = int(version_text) if version_text else None
    return Target(name, version or None, method)  # 0 means the latest, as for gRPC clients


def invocation_status(code: Code) -> int:
    """The HTTP status /invocations answers: the shared table's, except that an overloaded
    server answers 503, which SageMaker reads as "retry this instance later", not 429."""
    return 503 if code is Code.RESOURCE_EXHAUSTED else code.http_status


class _Invocations:
    """The SageMaker routes bound to one Service."""

    def __init__(self, service: Service, default_model: str | None, code: CustomCode | None, ports: tuple[int, int]):
        self.service = service
        self.default_model = default_model
        self.code = code
        self.http_port, self.grpc_port = ports
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}") if code else None

    def ping(self) -> Response:
        """200 once every configured model has an AVAILABLE version; never waits on inference."""
        return Response(status=200 if self.service.store.all_available() else 503)

    def invocations(self) -> Response:
        """POST /invocations: the model of X-Amzn-SageMaker-Target-Model when sent."""
        return self.invoke(request.headers.get(TARGET_MODEL_HEADER) or None)

    def invoke(self, model: str | None) -> Response:
        """Answer the request for `model` (None: from the custom attributes or the default)."""
        started = time.perf_counter()
        name, version, outcome = "", None, "OK"
        try:
            chosen = target(
                request.headers.get(ATTRIBUTES_HEADER), self.default_model, sorted(self.service.store.models), model
            )
            name, version = chosen.name, chosen.version
            body = read_body()
            if self.code is not None:
                return self._custom(chosen, body)
            kind = content.answer_type(request.headers.get("Accept"))
            form, result = content.predict(
                self.service, name, version, content.media_type(request.content_type) or content.JSON, body
            )
            return Response(content.encode(form, result.outputs, kind), mimetype=kind)
        except ServingError as exc:
            outcome = exc.code.name
            return _json_error(invocation_status(exc.code), exc.message)
        except content.UnsupportedMediaType as exc:
            outcome = "UNSUPPORTED_MEDIA_TYPE"
            return _json_error(415, str(exc))
        except content.NotAcceptable as exc:
            outcome = "NOT_ACCEPTABLE"
            return _json_error(406, str(exc))
        finally:
            log_request("sagemaker", "Invocations", name, version, outcome, started)

    def _model_answer(self, chosen: Target, content_type: str, body: bytes) -> Answer:
        """The model's JSON answer, or its error, as an output handler receives it."""
        try:
            form, result = content.predict(self.service, chosen.name, chosen.version, content_type, body)
            return Answer(200, encode_predict(form, result.outputs))
        except ServingError as exc:
            return Answer(invocation_status(exc.code), orjson.dumps({"error": exc.message}))

    def _custom(self, chosen: Target, body: bytes) -> Response:
        """Run the custom handlers; one that raises is a 500 naming its exception."""
        code = self.code
        assert code is not None
        context = self._context(chosen)
        try:
            if code.handler is not None:
                answer_body, answer_type = code.handler(io.BytesIO(body), context)
            else:
                if code.input_handler is not None:
                    request_body = code.input_handler(io.BytesIO(body), context)
                    if isinstance(request_body, str):
                        request_body = request_body.encode()
                    answer = self._model_answer(chosen, content.JSON, request_body)
                else:
                    answer = self._model_answer(chosen, context.request_content_type, body)
                if code.output_handler is None:
                    return Response(answer.content, status=answer.status_code, mimetype=content.JSON)
                answer_body, answer_type = code.output_handler(answer, context)
        except content.UnsupportedMediaType as exc:
            return _json_error(415, str(exc))
        except Exception as exc:
            log.exception("custom handler failed for model %s", chosen.name)
            return _json_error(Code.INTERNAL.http_status, f"{type(exc).__name__}: {exc}")
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
            request_content_type=content.media_type(request.content_type) or content.JSON,
            accept_header=request.headers.get("Accept") or content.JSON,
            content_length=request.content_length,
        )


def create_sagemaker_app(
    service: Service,
    max_body_mb: int,
    default_model: str | None,
    code: CustomCode | None,
    ports: tuple[int, int],
    multi_model: Callable[[Callable[[str], Response]], Blueprint] | None = None,
) -> Flask:
    """The TF Serving REST app with SageMaker's /ping and /invocations added as a blueprint;
    `multi_model(invoke)` makes the /models blueprint, given how to answer for one model."""
    app = create_app(service, max_body_mb)
    app.config[BODY_LIMIT_SETTING] = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
    routes = _Invocations(service, default_model, code, ports)
    blueprint = Blueprint("sagemaker", __name__)
    blueprint.add_url_rule("/ping", "ping", routes.ping, methods=["GET"])
    blueprint.add_url_rule("/invocations", "invocations", routes.invocations, methods=["POST"])
    app.register_blueprint(blueprint)
    if multi_model is not None:
        app.register_blueprint(multi_model(routes.invoke))
    return app
