"""TF Serving's JSON tensors <-> numpy: request bodies in the row (`instances`) and column
(`inputs`) formats, and predict answers in the matching form.

JSON numbers become arrays with one `np.asarray` call per input (no per-element Python loop
when the nesting is regular) and are then converted to the model's input dtype under TF
Serving's rules: integers into float inputs, integral floats into integer inputs,
`true`/`false` only into bool inputs, nothing that loses range. As TF Serving does, `NaN`,
`Infinity` and `-Infinity` are accepted as number literals and written back as such.

Strings (util/json_tensor.cc): a DT_STRING input takes JSON strings (their UTF-8 bytes) and
`{"b64": "..."}` objects (the decoded bytes); a numeric input takes `{"b64": ...}` values as
encoded images (decoded in the pipeline, images.py). String outputs are written as JSON
strings, or as `{"b64": ...}` when the output's name ends in `_bytes` (TF Serving's rule).
"""

from __future__ import annotations

import base64
import enum
import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import orjson

from ie_serving import json_body
from ie_serving.dtypes import BFLOAT16, STRING, float_overflow, tf_name
from ie_serving.errors import InvalidInput
from ie_serving.tensor_spec import Signature, TensorSpec

# Deepest nesting read as a tensor: numpy's element iterators (array.flat) take 32 dimensions.
MAX_RANK = 32
BYTES_SUFFIX = "_bytes"  # string outputs named so are written as {"b64": ...}

# stands in for a value named after no input: the pipeline reports the name
_UNCONVERTED = np.empty(0)


class Format(enum.Enum):
    """The request format, which also decides the answer's form."""

    ROW = "instances"
    COLUMN = "inputs"


def parse_body(body: bytes) -> Any:
    """JSON text -> Python values; NaN/Infinity literals are accepted as TF Serving does."""
    if not body.strip():
        raise InvalidInput("JSON Parse error: the request body is empty; expected a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        first_error = exc
    try:  # orjson refuses NaN/Infinity literals; the standard parser takes them
        return json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidInput(f"JSON Parse error: {first_error}") from None


def may_hold_bools(body: bytes) -> bool:
    """False when the JSON text surely has no `true`/`false` literal, in two fast byte scans:
    'r' and 'l' never occur in numbers, NaN or Infinity, and rarely elsewhere."""
    return (b"r" in body and b"true" in body) or (b"l" in body and b"false" in body)


def decode_predict(
    document: Any, signature_of: Callable[[str], Signature], has_bool_literals: bool = True
) -> tuple[Format, dict[str, np.ndarray], str]:
    """A parsed predict body -> (format, inputs converted to the dtypes of the signature it
    names, signature name). `signature_of` raises for an unknown signature name.

    Values named after no input of the signature are left unconverted (empty arrays), for the
    pipeline's one check of the input names (tensor_spec.validate_inputs) to report.
    `has_bool_literals` may be False when the body holds no `true`/`false` (see may_hold_bools),
    which skips the check that a boolean did not slip into a numeric input."""
    if not isinstance(document, dict):
        raise InvalidInput(
            f'expected a JSON object {{"instances": [...]}} or {{"inputs": ...}}, got {json_body.kind(document)}'
        )
    signature = document.get("signature_name", "")
    if not isinstance(signature, str):
        raise InvalidInput(f"'signature_name' must be a string, got {json_body.kind(signature)}")
    specs = signature_of(signature).inputs
    if "instances" in document and "inputs" in document:
        raise InvalidInput(
            "expected only one of the 'instances' (row format) or 'inputs' (column format) keys, got both"
        )
    if "instances" in document:
        values = _row_values(document["instances"], specs)
        form = Format.ROW
    elif "inputs" in document:
        values = _column_values(document["inputs"], specs)
        form = Format.COLUMN
    else:
        raise InvalidInput(
            f"missing 'inputs' or 'instances' key; got keys {sorted(document)}. "
            'Send {"instances": [...]} (row format) or {"inputs": ...} (column format)'
        )
    inputs = {
        name: to_array(name, value, specs[name], has_bool_literals) if name in specs else _UNCONVERTED
        for name, value in values.items()
    }
    return form, inputs, signature


def is_b64(value: Any) -> bool:
    """A {"b64": "..."} binary value: an object whose one key is "b64", holding a string (TF
    Serving's IsValBase64Object, util/json_tensor.cc); any other object is not one."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def decode_b64(text: str) -> bytes:
    """The bytes of a {"b64": ...} value's text: standard base64 (RFC 4648, + and /), its "="
    padding optional, as TF Serving's absl::Base64Unescape reads it; ValueError (binascii.Error
    among them) when the text is not base64."""
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _named(value: Any) -> bool:
    return isinstance(value, dict) and not is_b64(value)


def _row_values(instances: Any, specs: Mapping[str, TensorSpec]) -> dict[str, Any]:
    """Row format: one entry per batch item, values or objects keyed by input name."""
    if not isinstance(instances, list):
        raise InvalidInput(
            f"'instances' must be a list with one item per batch element, got {json_body.kind(instances)}"
        )
    if not instances:
        raise InvalidInput("'instances' is an empty list; expected at least one batch element")
    if not _named(instances[0]):
        if len(specs) > 1:
            raise InvalidInput(
                f"'instances' is a plain list, but the model has {len(specs)} inputs {sorted(specs)}: "
                "send a list of objects keyed by input name"
            )
        for index, item in enumerate(instances):
            if _named(item):
                raise InvalidInput(
                    f"expected a value or list at item {index} of 'instances' like item 0, got an object"
                )
        return {next(iter(specs)): instances}
    keys = list(instances[0])
    for index, item in enumerate(instances):
        if not _named(item):
            raise InvalidInput(
                f"expected an object at item {index} of 'instances' like item 0, got {json_body.kind(item)}"
            )
        if item.keys() != instances[0].keys():
            raise InvalidInput(
                f"item {index} of 'instances' names inputs {sorted(item)} but item 0 names {sorted(keys)}: "
                "in the row format every item carries every input, so all inputs have the same batch size"
            )
    return {name: [item[name] for item in instances] for name in keys}


def _column_values(inputs: Any, specs: Mapping[str, TensorSpec]) -> dict[str, Any]:
    """Column format: one value for a single-input model, or an object keyed by input name."""
    if _named(inputs):
        return inputs
    if len(specs) > 1:
        raise InvalidInput(
            f"'inputs' is a plain value, but the model has {len(specs)} inputs {sorted(specs)}: "
            "send an object keyed by input name"
        )
    return {next(iter(specs)): inputs}


def to_array(name: str, value: Any, spec: TensorSpec, has_bool_literals: bool = True) -> np.ndarray:
    """One input's JSON value -> an array of the spec's dtype (for a numeric input sent
    {"b64": ...} values: a string array of the files), or InvalidInput saying why not."""
    if spec.dtype == STRING:
        return _strings(name, _as_array(name, value, STRING), text=True)
    array = _as_array(name, value)
    kind = array.dtype.kind
    if kind == "O" and all(is_b64(leaf) for leaf in array.flat):
        return _strings(name, array, text=False)
    if kind not in "biuf":
        raise InvalidInput(
            f'input {name!r} expects {tf_name(spec.dtype)} numbers (or {{"b64": ...}} JPEG/PNG files for an image '
            f"input); got {_first_bad_leaf(value)}"
        )
    if array.size == 0:
        return array.astype(spec.dtype)
    if kind != "b" and has_bool_literals and _holds_bool(value):
        raise InvalidInput(
            f"input {name!r} expects {tf_name(spec.dtype)} numbers, got true/false mixed with numbers; "
            "booleans are accepted only by DT_BOOL inputs"
        )
    if spec.dtype == np.uint64 and kind == "f":
        exact = _as_uint64(value, array)
        if exact is not None:
            return exact
    return _convert(name, array, spec.dtype)


def _as_array(name: str, value: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """numpy's array of a JSON value, or InvalidInput for nesting it cannot read as a tensor:
    ragged, or deeper than MAX_RANK."""
    try:
        array = np.asarray(value, dtype=dtype)
    except (ValueError, TypeError, RecursionError) as exc:
        if "inhomogeneous" in str(exc):
            raise InvalidInput(
                f"input {name!r}: the nested lists are ragged (lists at the same depth differ in length, or mix "
                "lists and numbers); a tensor needs a regular shape"
            ) from None
        raise InvalidInput(f"input {name!r}: cannot read the value as a tensor: {exc}") from None
    if array.ndim > MAX_RANK:
        raise InvalidInput(
            f"input {name!r}: the value nests lists {array.ndim} deep; a tensor has at most {MAX_RANK} dimensions"
        )
    return array


def _strings(name: str, array: np.ndarray, text: bool) -> np.ndarray:
    """An object array of JSON leaves -> the bytes of each: {"b64": ...} decoded, and strings
    as UTF-8 when `text` (a DT_STRING input)."""
    strings = np.empty(array.shape, dtype=STRING)
    for index, leaf in enumerate(array.flat):
        if is_b64(leaf):
            try:
                strings.flat[index] = decode_b64(leaf["b64"])
            except ValueError as exc:
                raise InvalidInput(
                    f'input {name!r}: item {index} {{"b64": ...}} is not valid base64 ({exc}); expected the file\'s '
                    "bytes in standard base64 (RFC 4648: A-Z, a-z, 0-9, + and /)"
                ) from None
        elif text and isinstance(leaf, str):
            strings.flat[index] = leaf.encode()
        else:
            expected = 'JSON strings or {"b64": "..."} objects' if text else '{"b64": "..."} objects'
            raise InvalidInput(f"input {name!r} expects {expected}; item {index} is {json_body.kind(leaf)}")
    return strings


def _as_uint64(value: Any, as_float: np.ndarray) -> np.ndarray | None:
    """numpy reads integers above int64 mixed with small ones as float64; read them again exactly."""
    try:
        exact = np.asarray(value, dtype=np.uint64)
    except (OverflowError, ValueError, TypeError):
        return None
    return exact if np.array_equal(exact.astype(np.float64), as_float) else None


def _holds_bool(value: Any) -> bool:
    """True when a (regular) JSON value has booleans among numbers, which numpy turns into 0/1."""
    return any(type(leaf) is bool for leaf in np.asarray(value, dtype=object).flat)


def _convert(name: str, array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    where = f"input {name!r} expects {tf_name(dtype)}"
    kind = array.dtype.kind
    if dtype == np.bool_:
        if kind != "b":
            raise InvalidInput(f"{where} (JSON true/false), got {_json_kind(kind)}")
        return array
    if kind == "b":
        raise InvalidInput(f"{where}, got JSON true/false; booleans are accepted only by DT_BOOL inputs")
    if dtype.kind == "f" or dtype == BFLOAT16:
        return _to_float(where, array, dtype)
    return _to_int(where, array, dtype)


def _to_float(where: str, array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Numbers to a float dtype, integers rounded to the nearest float as TF Serving converts
    them (g3doc/api_rest.md: 1435774380 sent to a float input becomes 1435774336.0); a value
    beyond the dtype's range is refused."""
    with np.errstate(over="ignore", invalid="ignore"):
        converted = array.astype(dtype)
    if dtype != np.float64 and array.size:
        value = float_overflow(array, converted)
        if value is not None:
            raise InvalidInput(f"{where}, got {_number_text(value)}, which is outside the range of {tf_name(dtype)}")
    return converted


def _to_int(where: str, array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    low, high = array.min(), array.max()
    if array.dtype.kind == "f":
        integral = np.isfinite(array) & (array == np.trunc(array))
        if not integral.all():
            value = array[~integral].flat[0]
            raise InvalidInput(f"{where} (JSON integers), got {_float_text(value)}, which is not an integer")
        # compare in float: info.max rounds up to 2**bits in float64, so the top bound is exclusive
        out_of_range = low < float(info.min) or high >= float(info.max) + 1
    else:
        out_of_range = low < info.min or high > info.max
    if out_of_range:
        value = low if low < info.min else high
        raise InvalidInput(f"{where}, got {_number_text(value)} outside its range [{info.min}, {info.max}]")
    return array.astype(dtype)


def _json_kind(kind: str) -> str:
    return {"f": "JSON numbers with fractions", "i": "JSON integers", "u": "JSON integers"}.get(kind, "numbers")


def _float_text(value: float) -> str:
    return "NaN" if math.isnan(value) else repr(float(value))


def _number_text(value: Any) -> str:
    return _float_text(value) if isinstance(value, np.floating) else str(int(value))


def _leaves(value: Any, budget: list[int]) -> Iterator[Any]:
    """Leaves of nested lists, depth first, visiting at most budget[0] values."""
    stack = [value]
    while stack and budget[0] > 0:
        budget[0] -= 1
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            yield item


def _first_bad_leaf(value: Any) -> str:
    """Names the first non-numeric value for an error message (bounded walk)."""
    for leaf in _leaves(value, [100_000]):
        if is_b64(leaf):
            return 'a {"b64": ...} binary value'
        if isinstance(leaf, str):
            return f"the string {leaf[:40]!r}"
        if leaf is None:
            return "null"
        if isinstance(leaf, dict):
            return f"an object with keys {sorted(leaf)[:5]}"
        if isinstance(leaf, int) and not -(2**63) <= leaf < 2**64:
            return f"integer {leaf}, which does not fit in 64 bits"
    return "values numpy cannot read as numbers"


def encode_predict(form: Format, outputs: Mapping[str, np.ndarray]) -> bytes:
    """Outputs -> TF Serving's answer: `predictions` for the row format, `outputs` for the column
    format; a single output unnamed, several keyed by name."""
    arrays = {name: _jsonable(name, array) for name, array in outputs.items()}
    if form is Format.COLUMN:
        body: Any = {"outputs": next(iter(arrays.values())) if len(arrays) == 1 else arrays}
    else:
        body = {"predictions": _rows(arrays)}
    if all(a.dtype.kind != "f" or np.isfinite(a).all() for a in arrays.values()):
        return orjson.dumps(body, default=_tolist, option=orjson.OPT_SERIALIZE_NUMPY)
    # NaN/Infinity: written as the literals NaN, Infinity, -Infinity, as TF Serving does
    return json.dumps(body, default=_tolist, separators=(",", ":")).encode()


def _rows(arrays: Mapping[str, np.ndarray]) -> Any:
    batch = None
    for name, array in arrays.items():
        if array.ndim == 0:
            raise InvalidInput(
                f"output {name!r} is a scalar with no batch dimension, which the row format needs; "
                'use the column format {"inputs": ...}'
            )
        if batch is not None and array.shape[0] != batch:
            raise InvalidInput(
                f"output {name!r} has batch size {array.shape[0]}, expected {batch} like the other outputs; "
                'use the column format {"inputs": ...}'
            )
        batch = array.shape[0]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    return [{name: array[index] for name, array in arrays.items()} for index in range(batch or 0)]


def _jsonable(name: str, array: np.ndarray) -> np.ndarray | np.generic:
    """What orjson writes: float16/bfloat16 through float32 (exact), arrays C-contiguous,
    0-d arrays as numpy scalars; strings as an object array of str, or of {"b64": ...} when
    the output's name ends in _bytes (TF Serving's rule; in other strings each byte that is
    not UTF-8 becomes U+FFFD), which orjson writes through _tolist."""
    array = np.asarray(array)
    if array.dtype == STRING:
        if name.endswith(BYTES_SUFFIX):
            array = np.frompyfunc(lambda value: {"b64": base64.b64encode(value).decode()}, 1, 1)(array)
        else:
            array = np.frompyfunc(lambda value: bytes(value).decode("utf-8", "replace"), 1, 1)(array)
        return np.asarray(array, dtype=STRING)
    if array.dtype == np.float16 or array.dtype == BFLOAT16:
        array = array.astype(np.float32)
    if array.ndim == 0:
        return array[()]
    return array if array.flags.c_contiguous else array.copy(order="C")


def _tolist(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
