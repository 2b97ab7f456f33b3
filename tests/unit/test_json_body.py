"""json_body: the JSON front ends' one reader of a body that must be a JSON object, and one way
of naming a JSON value in error messages."""

from __future__ import annotations

import pytest

from ie_serving.errors import InvalidInput
from ie_serving.json_body import kind, member_object, parse_object


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "null"),
        (True, "a boolean"),
        (3, "the number 3"),
        (1.5, "the number 1.5"),
        ("x" * 50, f"the string {'x' * 40!r}"),
        ([1], "a list of 1 item"),
        ([1, 2], "a list of 2 items"),
        ({"a": 1}, "an object"),
    ],
)
def test_a_json_value_is_named_by_its_kind(value, words):
    assert kind(value) == words


def test_a_body_is_read_as_one_json_object():
    assert parse_object(b' {"a": [1, 2]} ', "the request") == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the request body is empty; expected the request, a JSON object"),
        (b"  \n", "the request body is empty; expected the request, a JSON object"),
        (b"[1, 2]", "the request must be a JSON object, got a list of 2 items"),
        (b'"a"', "the request must be a JSON object, got the string 'a'"),
    ],
)
def test_a_body_that_is_not_an_object_is_refused_naming_what_came(body, message):
    with pytest.raises(InvalidInput) as refused:
        parse_object(body, "the request")
    assert refused.value.message == message


def test_invalid_json_is_refused_with_the_parsers_words_and_the_hint():
    with pytest.raises(InvalidInput, match=r"^the request is not valid JSON: .+ \(a hint\)$"):
        parse_object(b'{"a": ', "the request", hint=" (a hint)")


def test_an_optional_body_may_be_empty_but_not_another_kind():
    assert parse_object(b"", "the request", optional=True) == {}
    with pytest.raises(InvalidInput, match="got null"):
        parse_object(b"null", "the request", optional=True)


def test_a_member_object_is_empty_when_absent_and_refused_when_another_kind():
    assert member_object(None, "'parameters'") == {}
    assert member_object({"k": 1}, "'parameters'") == {"k": 1}
    with pytest.raises(InvalidInput, match=r"^'parameters' must be a JSON object, got the number 3$"):
        member_object(3, "'parameters'")
