"""Numbers read from request text (a v2 model version, the Inference-Header-Content-Length header,
the SageMaker tfs-model-version attribute) are ASCII digits only. Python's str.isdigit() is also true
for '²' or '٣', on which int() raises or reads a number no reference server would: such text is the
client's error (InvalidInput, 400), never a 500 (review finding 4)."""

from __future__ import annotations

import pytest

from ie_serving.errors import InvalidInput
from ie_serving.v2_core import parse_version
from ie_serving.v2_http import split_body
from serve.routes import target

NOT_ASCII_DIGITS = ["²", "1²", "٣", "１"]  # superscript two, Arabic-Indic three, fullwidth one


@pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
def test_a_v2_version_of_other_digits_is_invalid_input(text):
    with pytest.raises(InvalidInput, match="version number"):
        parse_version(text)


def test_a_v2_version_of_ascii_digits_is_read():
    assert parse_version("3") == 3
    assert parse_version("0") is None


@pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
def test_a_header_length_of_other_digits_is_invalid_input(text):
    with pytest.raises(InvalidInput, match="must be a number of bytes"):
        split_body(b"{}" * 10, text)


def test_a_header_length_of_ascii_digits_splits_the_body():
    json_part, binary = split_body(b'{"a":1}xyz', " 7 ")
    assert json_part == b'{"a":1}' and bytes(binary) == b"xyz"


@pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
def test_a_sagemaker_model_version_of_other_digits_is_invalid_input(text):
    with pytest.raises(InvalidInput, match="tfs-model-version"):
        target(f"tfs-model-version={text}", "m", ["m"])


def test_a_sagemaker_model_version_of_ascii_digits_is_read():
    assert target("tfs-model-version=2", "m", ["m"]).version == 2


@pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
def test_a_multi_model_page_size_of_other_digits_is_invalid_input(text):
    from serve.multi_model import _page_size

    with pytest.raises(InvalidInput, match="max_results: expected an integer"):
        _page_size(text)


@pytest.mark.parametrize("text", ["٣", "１"])
def test_a_tf_serving_rest_version_of_other_digits_matches_no_route(text):
    """TF Serving matches versions with RE2's \\d, ASCII only (http_rest_api_handler.cc)."""
    from ie_serving.rest_api import _GET_PATH, _PREDICT_PATH

    assert _GET_PATH.fullmatch(f"/v1/models/m/versions/{text}") is None
    assert _PREDICT_PATH.fullmatch(f"/v1/models/m/versions/{text}:predict") is None
    assert _GET_PATH.fullmatch("/v1/models/m/versions/3") is not None
