"""TF Serving's BatchingParameters: what they mean, their defaults, and where they come from
(--batching_parameters_file and a version's batching_params.pbtxt in TF Serving's text format,
the `batching` key of an `ie_serving config` file, SageMaker's SAGEMAKER_TFS_* variables).

Defaults are TF Serving's when a field is not given (tensorflow/core/kernels/batching_util
BasicBatchScheduler::Options: max_batch_size 1000, batch_timeout_micros 0,
max_enqueued_batches 10, num_batch_threads the schedulable CPUs, thread pool "batch_threads").
Validation uses TF Serving's words (servables/tensorflow/bundle_factory_util.cc).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping

from ie_serving.errors import ConfigError
from ie_serving.protos.tensorflow_serving.servables.tensorflow import session_bundle_config_pb2
from ie_serving.text_proto import read_text_proto

# the file TF Serving reads in a version directory with --enable_per_model_batching_parameters
PER_MODEL_FILE = "batching_params.pbtxt"
# server.cc names the pool so when --enable_batching comes without --batching_parameters_file
FLAG_ONLY_POOL_NAME = "model_server_batch_threads"
_EXPECTED = (
    "BatchingParameters text such as max_batch_size { value: 8 } batch_timeout_micros { value: 1000 } "
    "allowed_batch_sizes: 4 allowed_batch_sizes: 8"
)


def schedulable_cpus() -> int:
    """TF Serving's port::NumSchedulableCPUs()."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    """How one model version batches (field names and defaults are TF Serving's)."""

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = dataclasses.field(default_factory=schedulable_cpus)
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False
    thread_pool_name: str = "batch_threads"

    def describe(self) -> str:
        """One line for the log."""
        allowed = f", allowed_batch_sizes {list(self.allowed_batch_sizes)}" if self.allowed_batch_sizes else ""
        return (
            f"max_batch_size {self.max_batch_size}, batch_timeout_micros {self.batch_timeout_micros}, "
            f"max_enqueued_batches {self.max_enqueued_batches}, num_batch_threads {self.num_batch_threads}"
            f"{allowed}, pad_variable_length_inputs {str(self.pad_variable_length_inputs).lower()}"
        )


_INTEGERS = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads")
_MINIMUM = {"max_batch_size": 1, "batch_timeout_micros": 0, "max_enqueued_batches": 1, "num_batch_threads": 1}


def checked(params: BatchingParameters, where: str) -> BatchingParameters:
    """`params` when every field is in range; ConfigError naming `where`, the field and the value."""
    for field in _INTEGERS:
        value = getattr(params, field)
        if not isinstance(value, int) or isinstance(value, bool) or value < _MINIMUM[field]:
            raise ConfigError(f"{where}: {field}: expected an integer >= {_MINIMUM[field]}, got {value!r}")
    sizes = params.allowed_batch_sizes
    if sizes:
        if any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes):
            raise ConfigError(f"{where}: allowed_batch_sizes: expected positive integers, got {list(sizes)}")
        if list(sizes) != sorted(set(sizes)):
            raise ConfigError(
                f"{where}: allowed_batch_sizes entries must be monotonically increasing, got {list(sizes)}"
            )
        if sizes[-1] != params.max_batch_size:
            raise ConfigError(
                f"{where}: Last entry in allowed_batch_sizes must match max_batch_size; last entry was {sizes[-1]}; "
                f"expected {params.max_batch_size}"
            )
    return params


def from_proto(message: session_bundle_config_pb2.BatchingParameters, where: str) -> BatchingParameters:
    """The fields a BatchingParameters message sets over TF Serving's defaults."""
    if message.HasField("enable_large_batch_splitting") and message.enable_large_batch_splitting.value:
        raise ConfigError(
            f"{where}: enable_large_batch_splitting is not built: a request larger than max_batch_size is refused "
            "(as TF Serving does without it); raise max_batch_size instead"
        )
    values: dict[str, object] = {field: getattr(message, field).value for field in _INTEGERS if message.HasField(field)}
    if message.HasField("thread_pool_name"):
        values["thread_pool_name"] = message.thread_pool_name.value
    return checked(
        BatchingParameters(
            **values,  # type: ignore[arg-type]
            allowed_batch_sizes=tuple(message.allowed_batch_sizes),
            pad_variable_length_inputs=message.pad_variable_length_inputs,
        ),
        where,
    )


def read_file(path: str, flag: str) -> BatchingParameters:
    """BatchingParameters from a text file (--batching_parameters_file, batching_params.pbtxt);
    ConfigError names `flag`, the file and the fault."""
    message = read_text_proto(path, session_bundle_config_pb2.BatchingParameters(), flag, _EXPECTED)
    return from_proto(message, f"{flag} {path}")


def from_json(value: object, where: str) -> BatchingParameters | bool | None:
    """The `batching` key of a model in an `ie_serving config` file: true (TF Serving's
    defaults), false (off, whatever the server-wide flags say), or an object with
    BatchingParameters' field names and plain values; None: not given (the flags decide)."""
    if isinstance(value, str):  # the command line's --batching
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f'{where}: invalid JSON ({exc.msg}): {value!r}; expected true, false or {{"max_batch_size": 8}}'
            ) from None
    if value is None or isinstance(value, bool):
        return value if value is not True else BatchingParameters()
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where}: expected true, false or an object like {{"max_batch_size": 8}}, got {value!r}')
    known = {f.name for f in dataclasses.fields(BatchingParameters)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; accepted keys are {sorted(known)}")
    values = dict(value)
    if "allowed_batch_sizes" in values:
        sizes = values["allowed_batch_sizes"]
        if not isinstance(sizes, list):
            raise ConfigError(f"{where}: allowed_batch_sizes: expected a list of integers, got {sizes!r}")
        values["allowed_batch_sizes"] = tuple(sizes)
    pad = values.get("pad_variable_length_inputs", False)
    if not isinstance(pad, bool):
        raise ConfigError(f"{where}: pad_variable_length_inputs: expected true or false, got {pad!r}")
    name = values.get("thread_pool_name", "batch_threads")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: thread_pool_name: expected a non-empty string, got {name!r}")
    return checked(BatchingParameters(**values), where)


def server_batching(enable: bool, parameters_file: str | None) -> BatchingParameters | None:
    """The server-wide parameters of TF Serving's batching flags as server.cc reads them:
    --enable_batching with the parameters of --batching_parameters_file, or the defaults with
    the pool named model_server_batch_threads; the file without --enable_batching is refused in
    its words. (--enable_per_model_batching_parameters is read by the caller: it counts only
    with --enable_batching, "only applicable when --enable_batching flag is set".)"""
    if not enable:
        if parameters_file:
            raise ConfigError(
                "--batching_parameters_file is set without setting --enable_batching to true "
                "(TF Serving: server_options.batching_parameters_file is set without setting "
                "server_options.enable_batching to true.)"
            )
        return None
    if parameters_file:
        return read_file(parameters_file, "--batching_parameters_file")
    return BatchingParameters(thread_pool_name=FLAG_ONLY_POOL_NAME)
