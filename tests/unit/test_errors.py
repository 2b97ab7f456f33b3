"""The one error table (ie_serving/errors.py): every failure kind has one HTTP status and one
gRPC code, used by every front end.

TF Serving's REST handler answers a failure with the HTTP status of its gRPC code
(tensorflow_serving/model_servers/http_rest_api_handler.cc, ToHTTPStatusCode in
util/net_http/...): INVALID_ARGUMENT and FAILED_PRECONDITION 400, NOT_FOUND 404,
UNIMPLEMENTED 501, UNAVAILABLE 503, INTERNAL 500, DEADLINE_EXCEEDED 504."""

from __future__ import annotations

import grpc
import orjson
import pytest

from ie_serving import errors
from ie_serving.errors import Code


def test_every_kind_names_a_real_grpc_code_and_its_own_http_status():
    for code in Code:
        assert isinstance(getattr(grpc.StatusCode, code.grpc_name), grpc.StatusCode), code
    statuses = [code.http_status for code in Code if code not in (Code.FAILED_PRECONDITION, Code.UNKNOWN)]
    assert len(statuses) == len(set(statuses)), "two kinds share an HTTP status"


@pytest.mark.parametrize(
    ("code", "http", "grpc_name"),
    [
        (Code.INVALID_ARGUMENT, 400, "INVALID_ARGUMENT"),
        (Code.FAILED_PRECONDITION, 400, "FAILED_PRECONDITION"),
        (Code.NOT_FOUND, 404, "NOT_FOUND"),
        (Code.UNIMPLEMENTED, 501, "UNIMPLEMENTED"),
        (Code.UNAVAILABLE, 503, "UNAVAILABLE"),
        (Code.INTERNAL, 500, "INTERNAL"),
        (Code.DEADLINE_EXCEEDED, 504, "DEADLINE_EXCEEDED"),
        (Code.RESOURCE_EXHAUSTED, 429, "RESOURCE_EXHAUSTED"),
    ],
)
def test_tf_serving_kinds_keep_tf_servings_statuses(code, http, grpc_name):
    assert (code.http_status, code.grpc_name) == (http, grpc_name)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.MethodNotAllowed("m", ("GET",)), 405),
        (errors.NotAcceptable("m"), 406),
        (errors.PayloadTooLarge("m"), 413),
        (errors.UnsupportedMediaType("m"), 415),
        (errors.Forbidden("m"), 403),
        (errors.AlreadyExists("m"), 409),
        (errors.InsufficientMemory("m"), 507),
        (errors.LoadFailed("m"), 500),
    ],
)
def test_http_only_kinds_answer_through_the_table(error, status):
    answer = errors.answer(error)
    assert (answer.http_status, answer.message) == (status, "m")
    assert orjson.loads(answer.json_body()) == {"error": "m"}


def test_a_front_end_overrides_a_status_and_nothing_else():
    from serve.routes import STATUS_OVERRIDES

    assert errors.answer(errors.Overloaded("busy"), STATUS_OVERRIDES).http_status == 503
    assert errors.answer(errors.Overloaded("busy")).http_status == 429
    for code in Code:
        if code is not Code.RESOURCE_EXHAUSTED:
            assert STATUS_OVERRIDES.get(code, code.http_status) == code.http_status


def test_an_unexpected_exception_is_internal_and_names_itself():
    answer = errors.answer(KeyError("x"))
    assert answer.code is Code.INTERNAL and answer.http_status == 500
    assert answer.message == "internal error: KeyError: 'x'"
