"""Domain errors and the one table that maps each kind of failure to its HTTP status, gRPC
code and JSON body.

Every front end (gRPC, TF Serving REST, SageMaker) answers a failure through `answer()`, so
the protocols never disagree about what went wrong. A front end may override the HTTP status
of a kind (SageMaker answers RESOURCE_EXHAUSTED with 503). No gRPC import here: the gRPC
front end turns `Code.grpc_name` into grpc.StatusCode.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Mapping

import orjson

log = logging.getLogger(__name__)


class Code(enum.Enum):
    """A failure kind: (TF Serving error code number, HTTP status, gRPC status code name).

    The HTTP-only kinds (405, 406, 413, 415, the multi-model endpoint's 403, 409 and 507) carry
    the gRPC code closest in meaning, for logs and metrics."""

    INVALID_ARGUMENT = (3, 400, "INVALID_ARGUMENT")
    DEADLINE_EXCEEDED = (4, 504, "DEADLINE_EXCEEDED")
    NOT_FOUND = (5, 404, "NOT_FOUND")
    ALREADY_EXISTS = (6, 409, "ALREADY_EXISTS")
    PERMISSION_DENIED = (7, 403, "PERMISSION_DENIED")
    RESOURCE_EXHAUSTED = (8, 429, "RESOURCE_EXHAUSTED")
    FAILED_PRECONDITION = (9, 400, "FAILED_PRECONDITION")
    UNIMPLEMENTED = (12, 501, "UNIMPLEMENTED")
    INTERNAL = (13, 500, "INTERNAL")
    UNAVAILABLE = (14, 503, "UNAVAILABLE")  # a version whose files could not be fetched; v2 not ready
    UNKNOWN = (2, 500, "UNKNOWN")
    METHOD_NOT_ALLOWED = (12, 405, "UNIMPLEMENTED")
    NOT_ACCEPTABLE = (3, 406, "INVALID_ARGUMENT")
    PAYLOAD_TOO_LARGE = (8, 413, "RESOURCE_EXHAUSTED")
    UNSUPPORTED_MEDIA_TYPE = (3, 415, "INVALID_ARGUMENT")
    INSUFFICIENT_STORAGE = (8, 507, "RESOURCE_EXHAUSTED")

    @property
    def number(self) -> int:
        """The tensorflow.error.Code value, as GetModelStatus reports it."""
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]

    @property
    def grpc_name(self) -> str:
        """The name of the grpc.StatusCode member."""
        return self.value[2]


class ServingError(Exception):
    """A request failure with a message meant for the client."""

    code = Code.INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(ServingError):
    """The request does not fit the model or the API: names, dtypes, shapes, encoding, paths."""

    code = Code.INVALID_ARGUMENT


class ServableNotFound(ServingError):
    """No such model, no such version, or none AVAILABLE (as TF Serving answers); also a path no
    route serves."""

    code = Code.NOT_FOUND


class FailedPrecondition(ServingError):
    """The request names something the model does not offer, such as a signature."""

    code = Code.FAILED_PRECONDITION


class NotReady(ServingError):
    """A v2 readiness probe while the server or the model is not ready to serve (KServe's
    ServerNotReady / ModelNotReady answer 503)."""

    code = Code.UNAVAILABLE


class Unimplemented(ServingError):
    """A feature of the API this server does not provide."""

    code = Code.UNIMPLEMENTED


class Overloaded(ServingError):
    """Every infer request of the version is busy and its wait queue is full."""

    code = Code.RESOURCE_EXHAUSTED


class DeadlineExceeded(ServingError):
    """The client's deadline passed before an infer request became free."""

    code = Code.DEADLINE_EXCEEDED


class InferenceFailed(ServingError):
    """OpenVINO raised during inference on a request that passed validation; also custom
    SageMaker code that raised."""

    code = Code.INTERNAL


class MethodNotAllowed(ServingError):
    """An HTTP method the path does not take; `allowed` goes in the Allow header."""

    code = Code.METHOD_NOT_ALLOWED

    def __init__(self, message: str, allowed: tuple[str, ...]):
        super().__init__(message)
        self.allowed = allowed


class NotAcceptable(ServingError):
    """An Accept header naming no type the route writes."""

    code = Code.NOT_ACCEPTABLE


class PayloadTooLarge(ServingError):
    """A request body over the configured limit."""

    code = Code.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(ServingError):
    """A Content-Type the route does not read."""

    code = Code.UNSUPPORTED_MEDIA_TYPE


class Forbidden(ServingError):
    """A multi-model url that leads outside the model root."""

    code = Code.PERMISSION_DENIED


class AlreadyExists(ServingError):
    """A multi-model load of a name already loaded."""

    code = Code.ALREADY_EXISTS


class LoadFailed(ServingError):
    """A multi-model or model repository load after which the model has no version AVAILABLE."""

    code = Code.INTERNAL


class InsufficientMemory(ServingError):
    """A multi-model load that would pass the memory limit."""

    code = Code.INSUFFICIENT_STORAGE


class ModelLoadError(Exception):
    """A model version could not be read, reshaped or compiled (reported in status)."""

    code = Code.UNKNOWN


class StorageError(Exception):
    """A base path could not be listed or a version could not be fetched (often transient)."""

    code = Code.UNAVAILABLE


class ConfigError(Exception):
    """Configuration that cannot be served; the message names the field and the fix."""


@dataclasses.dataclass(frozen=True)
class Answer:
    """How a failure is answered: its kind, the HTTP status (after overrides) and the message."""

    code: Code
    http_status: int
    message: str

    def json_body(self) -> bytes:
        """TF Serving's error body: {"error": message}."""
        return orjson.dumps({"error": self.message})


def code_of(exc: BaseException) -> Code:
    """The failure kind of an exception: its own for ServingErrors, INTERNAL for anything else."""
    return exc.code if isinstance(exc, ServingError) else Code.INTERNAL


def answer(exc: BaseException, overrides: Mapping[Code, int] | None = None) -> Answer:
    """The answer to a request that raised `exc`; an unexpected exception (a bug) becomes
    INTERNAL naming its type, and fails that request only."""
    code = code_of(exc)
    message = exc.message if isinstance(exc, ServingError) else f"internal error: {type(exc).__name__}: {exc}"
    status = (overrides or {}).get(code, code.http_status)
    return Answer(code, status, message)
