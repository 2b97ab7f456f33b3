"""What the HTTP front ends (TF Serving REST, SageMaker) share on top of Flask: a bounded
request body, JSON answers, failures answered through the errors table, and Flask's own
refusals (no route, method not allowed, body too large) answered and logged the same way."""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping

import orjson
from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed

from ie_serving import errors
from ie_serving.service import Call

# app.config keys: the setting that limits bodies (named in the 413 message), and the text
# that tells a client which routes exist (added to 404 and 405 answers)
BODY_LIMIT_SETTING = "IE_SERVING_BODY_LIMIT_SETTING"
ROUTES_HINT = "IE_SERVING_ROUTES_HINT"


def deadline(timeout_ms: int | None) -> float | None:
    """The deadline of a request starting now, as a time.monotonic() value: `timeout_ms` (the
    server's REST timeout, --rest_api_timeout_in_ms) from now; None: none."""
    return None if timeout_ms is None else time.monotonic() + timeout_ms / 1000


def json_response(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def error_response(exc: BaseException, overrides: Mapping[errors.Code, int] | None = None) -> Response:
    """The answer to a request that raised `exc`: {"error": message} with the table's status."""
    failure = errors.answer(exc, overrides)
    response = Response(failure.json_body(), status=failure.http_status, mimetype="application/json")
    if isinstance(exc, errors.MethodNotAllowed):
        response.headers["Allow"] = ", ".join(exc.allowed)
    return response


def started() -> float:
    """When the current request began (stamped before its view ran)."""
    return g.get("ie_serving_started") or time.perf_counter()


def read_body() -> bytes:
    """The request body; PayloadTooLarge past the app's limit, also when it comes chunked.

    A body sent with `Content-Encoding: gzip` is decompressed, as TF Serving's HTTP server does
    (evhttp_request.cc: any Content-Encoding containing "gzip"); the limit applies to the sent
    and to the decompressed size, and decompression stops one byte past it (a small bomb
    cannot grow in memory); a corrupt or truncated gzip body is InvalidInput (400)."""
    limit = request.max_content_length
    try:
        if request.content_length is not None or limit is None:
            body = request.get_data(cache=False)  # werkzeug refuses a declared length over the limit
        else:
            body = request.environ["wsgi.input"].read(limit + 1)
    except RequestEntityTooLarge:
        raise _too_large() from None
    if limit is not None and len(body) > limit:
        raise _too_large()
    if "gzip" in request.headers.get("Content-Encoding", "").lower():
        return _gunzip(body, limit)
    return body


def _gunzip(body: bytes, limit: int | None) -> bytes:
    """The gzip members of `body` decompressed, at most limit + 1 bytes of them."""
    parts: list[bytes] = []
    size = 0
    rest = body
    try:
        while True:
            stream = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer
            room = 0 if limit is None else limit + 1 - size
            part = stream.decompress(rest, room)
            parts.append(part)
            size += len(part)
            if limit is not None and size > limit:
                raise errors.PayloadTooLarge(
                    f"Request body too large: its gzip content is over the limit of {limit} bytes ({_limit_setting()})"
                )
            if not stream.eof:
                raise errors.InvalidInput("Content-Encoding gzip: the body ends before its gzip stream does")
            rest = stream.unused_data
            if not rest:
                return b"".join(parts)
    except zlib.error as exc:
        raise errors.InvalidInput(f"Content-Encoding gzip: the body is not valid gzip data ({exc})") from None


def _too_large() -> errors.PayloadTooLarge:
    limit = request.max_content_length or 0
    sent = f"{request.content_length} bytes" if request.content_length is not None else "a body"
    return errors.PayloadTooLarge(
        f"Request body too large: sent {sent}, the limit is {limit} bytes ({_limit_setting()})"
    )


def _limit_setting() -> str:
    """The flag or variable that sets this app's body limit, named in 413 answers."""
    return current_app.config.get(BODY_LIMIT_SETTING, "--rest_max_body_mb")


# TF Serving's CORS headers (http_rest_api_util.cc AddCORSHeaders), on every REST answer
# with --rest_api_enable_cors_support
CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, GET"),
    ("Access-Control-Allow-Headers", "Content-Type"),
)


def _add_cors_headers(response: Response) -> Response:
    for name, value in CORS_HEADERS:
        response.headers[name] = value
    return response


def create_flask_app(max_body_mb: int | None, body_limit_setting: str, routes_hint: str, cors: bool = False) -> Flask:
    """A Flask app taking bodies up to max_body_mb (None: any size) whose own refusals answer
    JSON through the errors table and are logged as requests ("http" protocol) with their true
    duration; with `cors`, every answer carries TF Serving's CORS headers."""
    app = Flask("ie_serving")
    if cors:
        app.after_request(_add_cors_headers)
    app.config["MAX_CONTENT_LENGTH"] = None if max_body_mb is None else max_body_mb * 1024 * 1024
    app.config[BODY_LIMIT_SETTING] = body_limit_setting
    app.config[ROUTES_HINT] = routes_hint
    app.before_request(_stamp)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _stamp() -> None:
    g.ie_serving_started = time.perf_counter()


def _http_error(exc: HTTPException) -> Response:
    """Flask's own refusals (no route, wrong method, body too large) as JSON errors."""
    where = f"{request.method} {request.path}"
    hint = current_app.config.get(ROUTES_HINT, "")
    failure: errors.ServingError
    if isinstance(exc, RequestEntityTooLarge):
        failure = _too_large()
    elif isinstance(exc, WerkzeugMethodNotAllowed):
        failure = errors.MethodNotAllowed(f"{exc.name}: {where}; {hint}", tuple(exc.valid_methods or ()))
    elif exc.code == 404:
        failure = errors.ServableNotFound(f"{exc.name}: {where}; {hint}")
    elif exc.code == 400:
        failure = errors.InvalidInput(f"{exc.name}: {where}")
    else:
        failure = errors.ServingError(f"{exc.name}: {where}")
    call = Call("http", where, started=started())
    call.outcome = failure.code
    call.finish()
    return error_response(failure)
