"""TF Serving's REST API as a Flask app over the protocol-free Service: model status, model
metadata, predict, classify and regress. Thin: parse the path and body, call the service, encode the answer.

Paths follow TF Serving's patterns; anything else under /v1/ is a 400 `Malformed request`.
Failures answer `{"error": "<message>"}` through the errors table, the one gRPC uses, so
both protocols report a failure alike.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING

from flask import Flask, Response, request

from ie_serving import json_examples
from ie_serving.dtypes import tf_name
from ie_serving.errors import FailedPrecondition, InvalidInput, ServableNotFound
from ie_serving.http_common import create_flask_app, deadline, error_response, json_response, read_body, started
from ie_serving.json_predict import JsonPredictBody
from ie_serving.json_tensors import encode_predict
from ie_serving.protos.tensorflow.core.protobuf import error_codes_pb2
from ie_serving.service import Call, Service
from ie_serving.tensor_spec import TensorSpec
from ie_serving.v2_rest import blueprint as v2_blueprint

if TYPE_CHECKING:
    from ie_serving.repository import ModelRepository

# TF Serving's path patterns (http_rest_api_util.cc); the fixed words match in any case.
_VERSION = r"(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
_PREDICT_PATH = re.compile(rf"(?i)/v1/models/(?P<name>[^/:]+){_VERSION}:(?P<verb>classify|regress|predict)")
_GET_PATH = re.compile(rf"(?i)/v1/models(?:/(?P<name>[^/:]+))?{_VERSION}(?P<metadata>/metadata)?")
EXPECTED_ROUTES = (
    "expected GET /v1/models/{name}[/versions/{number}][/metadata] "
    "or POST /v1/models/{name}[/versions/{number}]:(predict|classify|regress)"
)

_MAX_VERSION = 2**63 - 1


class _Malformed(InvalidInput):
    """A path or method that is none of the API's requests."""


def _raw_path() -> str:
    """The path as the client sent it (percent-escapes kept), so an escaped '/' stays in a name."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    return urllib.parse.urlsplit(raw).path if raw else request.path


def _version(match: re.Match[str], service: Service, name: str) -> int | None:
    """The version asked for, by number or by /labels/LABEL: None for the latest (also for 0,
    as gRPC and OVMS clients mean it)."""
    if match["label"] is not None:
        return service.labeled_version(name, urllib.parse.unquote(match["label"]))
    if match["version"] is None:
        return None
    number = int(match["version"])
    if number > _MAX_VERSION:
        raise _Malformed(f"Malformed request: version {match['version']} does not fit in a 64-bit integer")
    return number or None


def _tensor_info(spec: TensorSpec) -> dict:
    """TF Serving's TensorInfo JSON: proto field names, int64 sizes as strings, defaults printed."""
    dims = [] if spec.shape is None else [{"size": str(d), "name": ""} for d in spec.shape]
    return {
        "dtype": tf_name(spec.dtype),
        "tensor_shape": {"dim": dims, "unknown_rank": spec.shape is None},
        "name": spec.name,
    }


class _Routes:
    """The request handlers bound to one Service."""

    def __init__(self, service: Service, timeout_ms: int | None = None):
        """timeout_ms: the deadline of a predict's wait for an infer request (None: none)."""
        self.service = service
        self.timeout_ms = timeout_ms

    def dispatch(self, subpath: str) -> Response:
        """Route one request; the path is read raw (see _raw_path), not from `subpath`."""
        method, path = request.method, _raw_path()
        try:
            with Call("rest", "Malformed", started=started(), metrics=self.service.metrics) as call:
                return self._route(call, method, path)
        except Exception as exc:  # every failure is answered; a bug fails this request only
            return error_response(exc)

    def _route(self, call: Call, method: str, path: str) -> Response:
        if not path.lower().startswith("/v1/"):
            call.method = f"{method} {path}"
            raise ServableNotFound(f"Not found: {method} {path}; {EXPECTED_ROUTES}")
        if method == "OPTIONS":
            call.method = "OPTIONS"
            return self.preflight()
        if method == "POST":
            match = _PREDICT_PATH.fullmatch(path)
            if match is None:
                raise _Malformed(f"Malformed request: POST {path}; {EXPECTED_ROUTES}")
            call.name, verb = urllib.parse.unquote(match["name"]), match["verb"].lower()
            call.method = verb.capitalize()
            call.version = _version(match, self.service, call.name)
            return self.predict(call.name, call.version, verb)
        match = _GET_PATH.fullmatch(path)
        if match is None:
            raise _Malformed(f"Malformed request: {method} {path}; {EXPECTED_ROUTES}")
        if match["name"] is None:
            raise InvalidInput("Missing model name in request: expected GET /v1/models/{name}")
        call.name = urllib.parse.unquote(match["name"])
        call.version = _version(match, self.service, call.name)
        if match["metadata"]:
            call.method = "GetModelMetadata"
            return self.metadata(call.name, call.version)
        call.method = "GetModelStatus"
        return self.status(call.name, call.version)

    @staticmethod
    def preflight() -> Response:
        """A CORS preflight, as TF Serving's http_server.cc answers OPTIONS on /v1/...: 200 with
        an empty body when Origin is an http(s) URL (the CORS headers come with
        --rest_api_enable_cors_support), else FAILED_PRECONDITION."""
        if re.search(r"https?://", request.headers.get("Origin", "")) is None:
            raise FailedPrecondition("Origin header is missing in CORS preflight")
        return Response(b"", status=200)

    def status(self, name: str, version: int | None) -> Response:
        statuses = self.service.status(name, version)
        return json_response(
            {
                "model_version_status": [
                    {
                        "version": str(s.version),
                        "state": s.state.name,
                        "status": {
                            "error_code": error_codes_pb2.Code.Name(s.error_code),
                            "error_message": s.error_message,
                        },
                    }
                    for s in statuses
                ]
            }
        )

    def metadata(self, name: str, version: int | None) -> Response:
        metadata = self.service.metadata(name, version)
        signatures = {
            key: {
                "inputs": {input_name: _tensor_info(spec) for input_name, spec in signature.inputs.items()},
                "outputs": {output_name: _tensor_info(spec) for output_name, spec in signature.outputs.items()},
                "method_name": signature.method_name,
            }
            for key, signature in metadata.signatures.items()
        }
        return json_response(
            {
                "model_spec": {"name": name, "signature_name": "", "version": str(metadata.version)},
                "metadata": {"signature_def": {"signature_def": signatures}},
            }
        )

    def predict(self, name: str, version: int | None, verb: str) -> Response:
        """POST :predict, :classify or :regress."""
        ends = deadline(self.timeout_ms)
        if verb != "predict":
            examples = json_examples.decoder(read_body(), verb)
            result = self.service.predict(name, version, examples, ends, examples.runtime_api)
            return Response(json_examples.encode_results(examples.results(result.outputs)[0]), mimetype=JSON)
        decoder = JsonPredictBody(read_body())
        result = self.service.predict(name, version, decoder, ends)
        return Response(encode_predict(decoder.form, result.outputs), mimetype=JSON)


JSON = "application/json"


def create_app(
    service: Service,
    max_body_mb: int | None,
    body_limit_setting: str = "--rest_max_body_mb",
    timeout_ms: int | None = None,
    cors: bool = False,
    repository: ModelRepository | None = None,
) -> Flask:
    """The REST app over `service`: TF Serving's /v1 routes and the KServe v2 /v2 routes
    (v2_rest); other front ends (SageMaker) add their routes to it.
    timeout_ms: deadline of each predict (TF Serving's --rest_api_timeout_in_ms), None for
    none; cors: TF Serving's CORS headers on every answer (--rest_api_enable_cors_support);
    repository: the v2 model repository extension's core (None: not offered)."""
    app = create_flask_app(max_body_mb, body_limit_setting, EXPECTED_ROUTES, cors)
    routes = _Routes(service, timeout_ms)
    # one catch-all rule: TF Serving matches /v1/models in any case; more specific rules added
    # later (SageMaker's /ping, /invocations) take precedence over it
    # OPTIONS is answered by the dispatcher as TF Serving answers a CORS preflight, not by Flask
    app.add_url_rule(
        "/<path:subpath>",
        "tf_serving",
        routes.dispatch,
        methods=["GET", "POST", "OPTIONS"],
        provide_automatic_options=False,
    )
    app.register_blueprint(v2_blueprint(service, timeout_ms, repository))
    return app
