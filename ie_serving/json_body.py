"""Reading JSON request bodies, shared by the JSON front ends: the body as one JSON object, a
member that must be an object, and how an error message names a JSON value's kind."""

from __future__ import annotations

from typing import Any

import orjson

from ie_serving.errors import InvalidInput


def kind(value: Any) -> str:
    """A JSON value as an error message names it: "null", "a boolean", "the number 3", "the
    string 'abc'" (cut at 40 characters), "a list of 2 items", "an object"."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if value is None:
        return "null"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    return "an object"


def parse_object(body: bytes, what: str, *, optional: bool = False, hint: str = "") -> dict[str, Any]:
    """`body` as one JSON object; `what` names it in errors ("the inference request"). An empty
    (or blank) body is {} when `optional`, else InvalidInput; `hint` follows the parser's
    message when the body is not JSON."""
    if not body.strip():
        if optional:
            return {}
        raise InvalidInput(f"the request body is empty; expected {what}, a JSON object")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}{hint}") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"{what} must be a JSON object, got {kind(document)}")
    return document


def member_object(value: Any, where: str) -> dict[str, Any]:
    """A member that must be a JSON object when present (`value` None: absent, {})."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object, got {kind(value)}")
    return value
