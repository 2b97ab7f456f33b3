"""TF Serving's classify/regress JSON (g3doc/api_rest.md "Classify and Regress API";
util/json_tensor.cc FillClassifyRegressRequestFromJson, MakeJsonFromClassificationResult,
MakeJsonFromRegressionResult): a body -> the request's signature name and tf.Example input,
and the answers -> `{"results": ...}`.

A feature's value is a JSON value or a list of them: a number with a fraction or exponent is
a float, a whole number an int64 (true/false too), a string or {"b64": ...} bytes, as
json_tensor.cc's AddValueToFeature reads them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson

from ie_serving.errors import InvalidInput
from ie_serving.inference_tasks import Classifications, ExamplesDecoder, Method, Regressions, Task
from ie_serving.json_tensors import decode_b64, is_b64, parse_body
from ie_serving.protos.tensorflow.core.example import example_pb2, feature_pb2
from ie_serving.protos.tensorflow_serving.apis import input_pb2

_INT64 = (-(2**63), 2**63 - 1)


def _json_type(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOL"
    return {dict: "OBJECT", list: "ARRAY", str: "STRING"}.get(type(value), "NUMBER")


def _kind_error(name: str, feature: feature_pb2.Feature) -> InvalidInput:
    kind = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}[feature.WhichOneof("kind")]
    return InvalidInput(f"Unexpected element type in feature: {name} expecting type: {kind}")


def _add_value(value: Any, name: str, feature: feature_pb2.Feature) -> None:
    """One JSON value into the feature's list (json_tensor.cc AddValueToFeature)."""
    current = feature.WhichOneof("kind")
    if isinstance(value, bool) or (isinstance(value, int) and not isinstance(value, bool)):
        if current not in (None, "int64_list"):
            raise _kind_error(name, feature)
        number = int(value)
        if not _INT64[0] <= number <= _INT64[1]:
            raise InvalidInput(f"Feature: {name} has uint64_t element. Only int64_t is supported.")
        feature.int64_list.value.append(number)
    elif isinstance(value, float):
        if current not in (None, "float_list"):
            raise _kind_error(name, feature)
        feature.float_list.value.append(value)
    elif isinstance(value, str) or is_b64(value):
        if current not in (None, "bytes_list"):
            raise _kind_error(name, feature)
        feature.bytes_list.value.append(value.encode() if isinstance(value, str) else _b64(value["b64"]))
    else:
        raise InvalidInput(f"Feature: {name} has element with unexpected JSON type: {_json_type(value)}")


def _b64(text: str) -> bytes:
    """A {"b64": ...} value's bytes (json_tensors' one reader), in TF Serving's words when not base64."""
    try:
        return decode_b64(text)
    except ValueError:
        raise InvalidInput("Unable to base64 decode") from None


def _example(value: Any, into: example_pb2.Example) -> None:
    """A JSON object of features into an Example (json_tensor.cc MakeExampleFromJsonObject)."""
    if not isinstance(value, dict):
        raise InvalidInput(f"Example must be JSON object but got JSON {_json_type(value)}")
    for name, content in value.items():
        feature = into.features.feature[name]
        feature.Clear()
        for item in content if isinstance(content, list) else (content,):
            _add_value(item, name, feature)


def parse_request(body: bytes, method: str) -> tuple[str, input_pb2.Input]:
    """A classify/regress JSON body -> (signature_name, Input); InvalidInput with TF Serving's
    words for a body that is not one. `method` (classify or regress) names it in errors."""
    document = parse_body(body)
    if not isinstance(document, dict):
        raise InvalidInput(f'JSON Value: {_excerpt(body)} Is not an object; expected {{"examples": [...]}}')
    signature_name = document.get("signature_name", "")
    if not isinstance(signature_name, str):
        raise InvalidInput(
            f"JSON Value: {_excerpt(body)} not formatted correctly. 'signature_name' key must be a string value."
        )
    request_input = input_pb2.Input()
    if "context" in document:  # read first, as json_tensor.cc does
        with_context = request_input.example_list_with_context
        _example(document["context"], with_context.context)
        target = with_context.examples
    else:
        target = request_input.example_list.examples
    if "examples" not in document:
        raise InvalidInput(
            f"JSON Value: {_excerpt(body)} When method is {method}, key 'examples' is expected and was not found"
        )
    examples = document["examples"]
    if not isinstance(examples, list):
        raise InvalidInput(f"JSON Value: {_excerpt(body)} Expecting 'examples' value to be an list/array")
    if not examples:
        raise InvalidInput(f"JSON Value: {_excerpt(body)} 'examples' value is an empty array")
    for value in examples:
        _example(value, target.add())
    return signature_name, request_input


def decoder(body: bytes, verb: str) -> ExamplesDecoder:
    """The service Decoder of a classify or regress JSON body (verb: "classify" or "regress"),
    as TF Serving's http_rest_api_handler.cc ProcessClassifyRequest / ProcessRegressRequest
    read it; its one task's answer is encode_results(decoder.results(outputs)[0])."""
    signature_name, request_input = parse_request(body, verb)
    method = Method.CLASSIFY if verb == "classify" else Method.REGRESS
    return ExamplesDecoder([Task(method, signature_name)], request_input)


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


def encode_results(result: Classifications | Regressions) -> bytes:
    """TF Serving's answer to :classify ({"results": [[[label, score], ...], ...]}) or :regress
    ({"results": [value, ...]}); float32 numbers as their shortest decimal, and NaN, Infinity
    and -Infinity as those literals, as TF Serving writes them (json_tensor.cc WriteDecimal)."""
    if isinstance(result, Regressions):
        finite = bool(np.isfinite(result.values).all())
        results: Any = result.values if finite else result.values.astype(str).astype(np.float64).tolist()
    else:
        finite = result.scores is None or bool(np.isfinite(result.scores).all())
        results = result.rows(shortest=True)
    if finite:
        return orjson.dumps({"results": results}, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps({"results": results}, separators=(",", ":")).encode()
