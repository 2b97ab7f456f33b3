"""Domain errors and the one table that maps each to its HTTP status and gRPC code.

Every front end (gRPC, REST, SageMaker) answers a failure through this table, so the
protocols never disagree about what went wrong.
"""

from __future__ import annotations

import enum

import grpc


class Code(enum.Enum):
    """A failure kind: (TF Serving error code number, HTTP status, gRPC status code)."""

    INVALID_ARGUMENT = (3, 400, grpc.StatusCode.INVALID_ARGUMENT)
    DEADLINE_EXCEEDED = (4, 504, grpc.StatusCode.DEADLINE_EXCEEDED)
    NOT_FOUND = (5, 404, grpc.StatusCode.NOT_FOUND)
    RESOURCE_EXHAUSTED = (8, 429, grpc.StatusCode.RESOURCE_EXHAUSTED)
    FAILED_PRECONDITION = (9, 400, grpc.StatusCode.FAILED_PRECONDITION)
    UNIMPLEMENTED = (12, 501, grpc.StatusCode.UNIMPLEMENTED)
    INTERNAL = (13, 500, grpc.StatusCode.INTERNAL)
    UNAVAILABLE = (14, 503, grpc.StatusCode.UNAVAILABLE)
    UNKNOWN = (2, 500, grpc.StatusCode.UNKNOWN)

    @property
    def number(self) -> int:
        """The tensorflow.error.Code value, as GetModelStatus reports it."""
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return self.value[2]


class ServingError(Exception):
    """A request failure with a message meant for the client."""

    code = Code.INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(ServingError):
    """The request does not fit the model: names, dtypes, shapes or encoding."""

    code = Code.INVALID_ARGUMENT


class ServableNotFound(ServingError):
    """No such model, or no such version of it."""

    code = Code.NOT_FOUND


class ServableUnavailable(ServingError):
    """The version exists but is not AVAILABLE (loading, failed or unloading)."""

    code = Code.UNAVAILABLE


class FailedPrecondition(ServingError):
    """The request names something the model does not offer, such as a signature."""

    code = Code.FAILED_PRECONDITION


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
    """OpenVINO raised during inference on a request that passed validation."""

    code = Code.INTERNAL


class ModelLoadError(Exception):
    """A model version could not be read, reshaped or compiled (reported in status)."""

    code = Code.UNKNOWN


class StorageError(Exception):
    """A base path could not be listed or a version could not be fetched (often transient)."""

    code = Code.UNAVAILABLE


class ConfigError(Exception):
    """Configuration that cannot be served; the message names the field and the fix."""
