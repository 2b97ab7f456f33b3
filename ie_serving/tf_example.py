"""tf.Example protos <-> numpy, without TensorFlow: the examples of a Classify, Regress or
MultiInference request batched into one array per model input, each input fed by the
feature of the same name.

TF Serving hands its classify/regress signatures one string tensor of serialized examples
(servables/tensorflow/util.cc InputToSerializedExampleTensor) and the model parses them. Here
the server parses them: for each model input, the feature of that name in every example
(`context` features as TF Serving merges them: an example's own feature wins) becomes one
row of the input's array, shaped like the input without its batch dimension, in the input's
dtype. A float input takes a float_list, an integer or bool input an int64_list, a string
input (DT_STRING) a bytes_list, its values as an object array of bytes, as
tf.io.parse_example's FixedLenFeature does. Features no input is named after are ignored, as
parse_example ignores features outside its spec.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np

from ie_serving.dtypes import BFLOAT16, STRING, float_overflow, tf_name
from ie_serving.errors import InvalidInput
from ie_serving.protos.tensorflow.core.example import example_pb2, feature_pb2
from ie_serving.protos.tensorflow_serving.apis import input_pb2
from ie_serving.tensor_spec import TensorSpec

# The largest array the examples may be batched into: context features are repeated in every
# example, so a small request could otherwise ask for a huge allocation.
MAX_BATCH_BYTES = 1 << 30

_KINDS = {"float_list": "a float_list", "int64_list": "an int64_list", "bytes_list": "a bytes_list"}


def examples_of(request_input: input_pb2.Input) -> tuple[Sequence[example_pb2.Example], example_pb2.Example | None]:
    """The examples of a request's input and its context (None without one); InvalidInput
    with TF Serving's words when there are none."""
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        examples, context = request_input.example_list.examples, None
    elif kind == "example_list_with_context":
        examples, context = (
            request_input.example_list_with_context.examples,
            request_input.example_list_with_context.context,
        )
    else:
        examples, context = (), None
    if not examples:
        raise InvalidInput("Input is empty.")
    return examples, context


def _feature_kind(spec: TensorSpec) -> str:
    """The feature list a model input takes (tf.io.FixedLenFeature's rule)."""
    if spec.dtype == STRING:
        return "bytes_list"
    if spec.dtype == BFLOAT16 or spec.dtype.kind == "f":
        return "float_list"
    return "int64_list"


def _row_shape(spec: TensorSpec, count: int, where: str) -> tuple[int, ...]:
    """The shape of one example's values in the input: the input's shape without its batch
    dimension; one dynamic dimension is inferred from the number of values."""
    if spec.shape is None:
        return (count,)
    if len(spec.shape) == 0:
        raise InvalidInput(
            f"{where}: the model input is a scalar (shape []), so examples cannot be batched into it; "
            "classify and regress need inputs whose first dimension is the batch"
        )
    dims = spec.shape[1:]
    unknown = [index for index, dim in enumerate(dims) if dim == -1]
    if len(unknown) > 1:
        raise InvalidInput(
            f"{where}: the model input has shape {list(spec.shape)}, with more than one dynamic dimension beside "
            "the batch; a feature is a flat list of values, so its shape cannot be known"
        )
    known = math.prod(dim for dim in dims if dim != -1)
    if unknown:
        if known == 0 or count % known:
            raise InvalidInput(
                f"{where} has {count} value(s), which do not fill the input's shape {list(spec.shape)} "
                "(-1: any size; the first dimension is the batch)"
            )
        row = list(dims)
        row[unknown[0]] = count // known
        return tuple(row)
    if count != known:
        raise InvalidInput(
            f"{where} has {count} value(s); the model input has shape {list(spec.shape)}, "
            f"so each example needs {known} (the first dimension is the batch)"
        )
    return tuple(dims)


def _check_kind(feature: feature_pb2.Feature, kind: str, spec: TensorSpec, where: str) -> None:
    """InvalidInput when the feature holds another kind of list than the input takes."""
    given = feature.WhichOneof("kind")
    if given is not None and given != kind:
        raise InvalidInput(
            f"{where} is {_KINDS[given]}, but the model input is {tf_name(spec.dtype)}, which takes {_KINDS[kind]}"
        )


def batch_feature(
    name: str,
    spec: TensorSpec,
    examples: Sequence[example_pb2.Example],
    context: example_pb2.Example | None,
) -> np.ndarray:
    """The feature `name` of every example as the model input `spec` (a row per example);
    the values are copied once, by np.fromiter over every example's list (bytes values into
    an object array)."""
    kind = _feature_kind(spec)
    shared = context.features.feature.get(name) if context is not None else None
    features = [example.features.feature.get(name, shared) for example in examples]
    for index, feature in enumerate(features):
        if feature is None:
            present = sorted(set(examples[index].features.feature) | set(context.features.feature if context else ()))
            raise InvalidInput(
                f"example {index}: feature {name!r} is required by the model's input {name!r} "
                f"({tf_name(spec.dtype)}) but could not be found; the example has features {present}"
            )
    if {feature.WhichOneof("kind") for feature in features} - {kind, None}:
        for index, feature in enumerate(features):
            _check_kind(feature, kind, spec, f"example {index}: feature {name!r}")
    rows = [getattr(feature, kind).value for feature in features]  # an empty Feature reads as no values
    row_shape = _row_shape(spec, len(rows[0]), f"example 0: feature {name!r}")
    count = math.prod(row_shape)
    for index, values in enumerate(rows):
        if len(values) != count:
            raise InvalidInput(
                f"example {index}: feature {name!r} has {len(values)} value(s), example 0 has {count}; "
                "every example must give the input the same shape"
            )
    natural = {"float_list": np.dtype(np.float32), "int64_list": np.dtype(np.int64), "bytes_list": STRING}[kind]
    size = len(rows) * count * max(natural.itemsize, spec.dtype.itemsize)
    if kind == "bytes_list" and size <= MAX_BATCH_BYTES:
        size += _bytes_in(features, rows)
    if size > MAX_BATCH_BYTES:
        raise InvalidInput(
            f"feature {name!r}: {len(rows)} examples of {count} value(s) would take more than "
            f"{MAX_BATCH_BYTES} bytes; send fewer examples per request"
        )
    array = np.fromiter(itertools.chain.from_iterable(rows), natural, len(rows) * count)
    return _to_dtype(array, spec, f"feature {name!r}").reshape((len(rows), *row_shape))


def _bytes_in(features: Sequence[feature_pb2.Feature], rows: Sequence[Sequence[bytes]]) -> int:
    """The bytes of every row's values, each shared (context) feature counted once per row it
    fills, as each row gets its own copy; each distinct feature's values are measured once."""
    measured: dict[int, int] = {}
    total = 0
    for feature, values in zip(features, rows, strict=True):
        if id(feature) not in measured:
            measured[id(feature)] = sum(map(len, values))
        total += measured[id(feature)]
    return total


def _to_dtype(array: np.ndarray, spec: TensorSpec, where: str) -> np.ndarray:
    """float32 or int64 values in the input's dtype; InvalidInput for a value it cannot hold."""
    dtype = spec.dtype
    if array.dtype == dtype:
        return array
    if array.dtype.kind == "f":
        with np.errstate(over="ignore"):
            converted = array.astype(dtype)
        if dtype != np.float64 and array.size:
            value = float_overflow(array, converted)
            if value is not None:
                raise InvalidInput(f"{where}: {float(value)!r} is outside the range of the input's {tf_name(dtype)}")
        return converted
    if dtype == np.bool_:
        low, high = 0, 1
    else:
        info = np.iinfo(dtype)
        low, high = info.min, info.max
    if array.size and (array.min() < low or array.max() > high):
        value = array.min() if array.min() < low else array.max()
        raise InvalidInput(
            f"{where}: {int(value)} is outside the range [{low}, {high}] of the input's {tf_name(dtype)}"
        )
    return array.astype(dtype)


def batch_inputs(specs: Mapping[str, TensorSpec], request_input: input_pb2.Input) -> dict[str, np.ndarray]:
    """Every model input from the feature of its name, batched over the request's examples."""
    examples, context = examples_of(request_input)
    return {name: batch_feature(name, spec, examples, context) for name, spec in specs.items()}
