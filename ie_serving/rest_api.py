"""TF Serving's REST API as a Flask app over the protocol-free Service: model status, model
metadata and predict. Thin: parse the path and body, call the service, encode the answer.

Paths follow TF Serving's patterns; anything else under /v1/ is a 400 `Malformed request`.
Failures answer `{"error": "<message>"}` with the HTTP status of errors.Code, the same table
gRPC uses, so both protocols report a failure alike.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse

import orjson
from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ie_serving.dtypes import tf_name
from ie_serving.engine import TensorSpec
from ie_serving.errors import Code, InvalidInput, ServingError, Unimplemented
from ie_serving.json_fast import decode_floats
from ie_serving.json_tensors import Format, decode_predict, encode_predict, may_hold_bools, parse_body
from ie_serving.protos.tensorflow.core.protobuf import error_codes_pb2
from ie_serving.service import PREDICT_METHOD, SIGNATURE, Prediction, Service, check_signature, log_request

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_MB = 100
# app.config key naming the setting that limits bodies, for the 413 message
BODY_LIMIT_SETTING = "IE_SERVING_BODY_LIMIT_SETTING"

# TF Serving's path patterns (http_rest_api_util.cc); the fixed words match in any case.
_VERSION = r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
_PREDICT_PATH = re.compile(rf"(?i)/v1/models/(?P<name>[^/:]+){_VERSION}:(?P<verb>classify|regress|predict)")
_GET_PATH = re.compile(rf"(?i)/v1/models(?:/(?P<name>[^/:]+))?{_VERSION}(?P<metadata>/metadata)?")
_EXPECTED = (
    "expected GET /v1/models/{name}[/versions/{number}][/metadata] "
    "or POST /v1/models/{name}[/versions/{number}]:predict"
)
_MAX_VERSION = 2**63 - 1


class _Malformed(InvalidInput):
    """A path or method that is none of the API's requests."""


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _raw_path() -> str:
    """The path as the client sent it (percent-escapes kept), so an escaped '/' stays in a name."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    return urllib.parse.urlsplit(raw).path if raw else request.path


def _version(match: re.Match[str]) -> int | None:
    """The version asked for: None for the latest (also for 0, as gRPC and OVMS clients mean it)."""
    if match["label"] is not None:
        raise Unimplemented(
            f"version labels are not supported (got {urllib.parse.unquote(match['label'])!r}); "
            "ask for /versions/{number}"
        )
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

    def __init__(self, service: Service):
        self.service = service

    def dispatch(self, subpath: str) -> Response:
        """Route one request; the path is read raw (see _raw_path), not from `subpath`."""
        started = time.perf_counter()
        method, path = request.method, _raw_path()
        name, version, action = "", None, "Malformed"
        if not path.lower().startswith("/v1/"):
            log_request("rest", f"{method} {path}", name, version, Code.NOT_FOUND.name, started)
            return _error(404, f"Not found: {method} {path}; {_EXPECTED}")
        try:
            if method == "POST":
                match = _PREDICT_PATH.fullmatch(path)
                if match is None:
                    raise _Malformed(f"Malformed request: POST {path}; {_EXPECTED}")
                name, verb = urllib.parse.unquote(match["name"]), match["verb"].lower()
                action = verb.capitalize()
                version = _version(match)
                response = self.predict(name, version, verb)
            else:
                match = _GET_PATH.fullmatch(path)
                if match is None:
                    raise _Malformed(f"Malformed request: {method} {path}; {_EXPECTED}")
                if match["name"] is None:
                    raise InvalidInput("Missing model name in request: expected GET /v1/models/{name}")
                name = urllib.parse.unquote(match["name"])
                version = _version(match)
                if match["metadata"]:
                    action, response = "GetModelMetadata", self.metadata(name, version)
                else:
                    action, response = "GetModelStatus", self.status(name, version)
        except ServingError as exc:
            log_request("rest", action, name, version, exc.code.name, started)
            return _error(exc.code.http_status, exc.message)
        except RequestEntityTooLarge:
            log_request("rest", action, name, version, "REQUEST_TOO_LARGE", started)
            return _too_large()
        except Exception as exc:  # a bug must fail one request, never the server
            log.exception("rest %s %s: unexpected error", method, path)
            log_request("rest", action, name, version, Code.INTERNAL.name, started)
            return _error(Code.INTERNAL.http_status, f"internal error: {type(exc).__name__}: {exc}")
        log_request("rest", action, name, version, "OK", started)
        return response

    def status(self, name: str, version: int | None) -> Response:
        statuses = self.service.status(name, version)
        return _json(
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
        signature = {
            "inputs": {key: _tensor_info(spec) for key, spec in metadata.inputs.items()},
            "outputs": {key: _tensor_info(spec) for key, spec in metadata.outputs.items()},
            "method_name": PREDICT_METHOD,
        }
        return _json(
            {
                "model_spec": {"name": name, "signature_name": "", "version": str(metadata.version)},
                "metadata": {"signature_def": {"signature_def": {SIGNATURE: signature}}},
            }
        )

    def predict(self, name: str, version: int | None, verb: str) -> Response:
        if verb != "predict":
            raise Unimplemented(f"{verb} is not supported by this server; use POST .../{name}:predict")
        form, result = predict_json(self.service, name, version, read_body())
        return Response(encode_predict(form, result.outputs), mimetype="application/json")


def predict_json(
    service: Service, name: str, version: int | None, body: bytes, bare_value_is_instances: bool = False
) -> tuple[Format, Prediction]:
    """Run a TF Serving JSON predict body: a single float input through json_fast when it can,
    anything else parsed in full. bare_value_is_instances: a JSON value that is not an object
    with `instances` or `inputs` is the instances (SageMaker's JSON, as AWS's container does)."""
    fast = decode_floats(body, service.metadata(name, version).inputs, bare_value_is_instances)
    if fast is not None:
        form, inputs, signature = fast
        return form, service.predict(name, version, inputs, signature_name=signature)
    document = parse_body(body)
    if bare_value_is_instances and not (
        isinstance(document, dict) and ("instances" in document or "inputs" in document)
    ):
        document = {"instances": document}
    return predict_document(service, name, version, document, may_hold_bools(body))


def predict_document(
    service: Service, name: str, version: int | None, document: object, has_bool_literals: bool = True
) -> tuple[Format, Prediction]:
    """Run a parsed TF Serving predict body (`instances` or `inputs`); the SageMaker routes share it."""
    specs = service.metadata(name, version).inputs
    signature = document.get("signature_name", "") if isinstance(document, dict) else ""
    if isinstance(signature, str):
        check_signature(signature)  # before decoding: a wrong signature is the first thing to report
    form, inputs, signature = decode_predict(document, specs, has_bool_literals)
    return form, service.predict(name, version, inputs, signature_name=signature)


def read_body() -> bytes:
    """The request body, refused with 413 past the limit, also when it comes chunked."""
    limit = request.max_content_length
    if request.content_length is not None or limit is None:
        return request.get_data(cache=False)  # werkzeug refuses a declared length over the limit
    body = request.environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def _too_large() -> Response:
    limit = request.max_content_length or 0
    sent = f"{request.content_length} bytes" if request.content_length is not None else "a body"
    setting = current_app.config.get(BODY_LIMIT_SETTING, "--rest_max_body_mb")
    return _error(413, f"Request body too large: sent {sent}, the limit is {limit} bytes ({setting})")


def create_app(service: Service, max_body_mb: int = DEFAULT_MAX_BODY_MB) -> Flask:
    """The REST app over `service`; other front ends (SageMaker) add their routes to it."""
    app = Flask("ie_serving")
    app.config["MAX_CONTENT_LENGTH"] = max_body_mb * 1024 * 1024
    routes = _Routes(service)
    # one catch-all rule: TF Serving matches /v1/models in any case; more specific rules added
    # later (SageMaker's /ping, /invocations) take precedence over it
    app.add_url_rule("/<path:subpath>", "tf_serving", routes.dispatch, methods=["GET", "POST"])
    app.register_error_handler(HTTPException, _http_error)
    return app


def _http_error(exc: HTTPException) -> Response:
    """Flask's own refusals (unknown path, wrong method, body too large) as JSON errors."""
    log_request("rest", f"{request.method} {request.path}", "", None, exc.name, time.perf_counter())
    if isinstance(exc, RequestEntityTooLarge):
        return _too_large()
    response = _error(exc.code or 500, f"{exc.name}: {request.method} {request.path}; {_EXPECTED}")
    if exc.code == 405:
        response.headers["Allow"] = ", ".join(exc.valid_methods or ())
    return response
