"""JSON row/column tensors <-> numpy, without a server: round trips for every served dtype,
TF Serving's conversion rules, and the messages for what is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ie_serving.dtypes import STRING
from ie_serving.errors import InvalidInput
from ie_serving.json_tensors import Format, decode_predict, encode_predict, may_hold_bools, parse_body
from ie_serving.tensor_spec import SIGNATURE, Signature, TensorSpec, find_signature

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64]
DTYPES += [np.uint8, np.uint16, np.uint32, np.uint64, np.bool_]


def _spec(dtype, shape=(-1, 3), name="x") -> dict[str, TensorSpec]:
    return {name: TensorSpec(name, np.dtype(dtype), shape)}


def _lookup(specs):
    """A signature lookup serving `specs` as the default signature, as Service.predict hands one."""
    return lambda name: find_signature({SIGNATURE: Signature(specs, {})}, name)


def _decode(body: bytes, specs):
    return decode_predict(parse_body(body), _lookup(specs), may_hold_bools(body))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(DTYPES), form=st.sampled_from(list(Format)))
def test_encoded_outputs_decode_to_the_same_array(data, dtype, form):
    """What the server writes for an output, sent back as an input, is the same array."""
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    elements = hnp.from_dtype(np.dtype(dtype), allow_nan=False, allow_infinity=False)
    array = data.draw(hnp.arrays(np.dtype(dtype), shape, elements=elements))
    answer = json.loads(encode_predict(form, {"x": array}))
    values = answer["predictions" if form is Format.ROW else "outputs"]
    body = json.dumps({form.value: values}).encode()
    got_form, inputs, _ = _decode(body, _spec(dtype, tuple(-1 for _ in shape)))
    assert got_form is form
    assert inputs["x"].dtype == array.dtype
    np.testing.assert_array_equal(inputs["x"], array)


def test_regular_shapes_become_one_array_per_input():
    form, inputs, signature = _decode(
        b'{"instances": [[1, 2, 3], [4, 5, 6]], "signature_name": "serving_default"}', _spec("f4")
    )
    assert (form, signature) == (Format.ROW, "serving_default")
    np.testing.assert_array_equal(inputs["x"], np.array([[1, 2, 3], [4, 5, 6]], np.float32))


def test_row_format_with_named_inputs_stacks_each_input():
    specs = {**_spec("f4", (-1, 2), "a"), **_spec("i8", (-1,), "b")}
    _, inputs, _ = _decode(b'{"instances": [{"a": [1, 2], "b": 3}, {"a": [4, 5], "b": 6}]}', specs)
    np.testing.assert_array_equal(inputs["a"], np.array([[1, 2], [4, 5]], np.float32))
    np.testing.assert_array_equal(inputs["b"], np.array([3, 6], np.int64))


def test_nan_and_infinity_literals_in_and_out():
    _, inputs, _ = _decode(b'{"inputs": [[NaN, Infinity, -Infinity]]}', _spec("f4"))
    assert np.isnan(inputs["x"][0, 0]) and inputs["x"][0, 1] == np.inf and inputs["x"][0, 2] == -np.inf
    assert encode_predict(Format.COLUMN, {"y": inputs["x"]}) == b'{"outputs":[[NaN,Infinity,-Infinity]]}'


def test_outputs_in_tf_serving_form():
    one = {"y": np.array([[1.5, 2]], np.float32)}
    two = {"y": np.array([1, 2], np.int64), "z": np.array([[True], [False]])}
    assert encode_predict(Format.COLUMN, one) == b'{"outputs":[[1.5,2.0]]}'
    assert encode_predict(Format.ROW, one) == b'{"predictions":[[1.5,2.0]]}'
    assert json.loads(encode_predict(Format.COLUMN, two)) == {"outputs": {"y": [1, 2], "z": [[True], [False]]}}
    assert json.loads(encode_predict(Format.ROW, two)) == {
        "predictions": [{"y": 1, "z": [True]}, {"y": 2, "z": [False]}]
    }
    assert encode_predict(Format.COLUMN, {"h": np.array([0.1], np.float16)}) == b'{"outputs":[0.099975586]}'
    assert encode_predict(Format.COLUMN, {"s": np.array(2.5, np.float32)}) == b'{"outputs":2.5}'


@pytest.mark.parametrize(
    ("outputs", "fragment"),
    [
        ({"y": np.array(1.0, np.float32)}, "scalar with no batch dimension"),
        ({"y": np.zeros((2, 1)), "z": np.zeros((3, 1))}, "has batch size 3, expected 2"),
    ],
)
def test_row_format_needs_a_common_batch_dimension(outputs, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        encode_predict(Format.ROW, outputs)


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        ("f4", [[1, 2, 3]], np.array([[1, 2, 3]], np.float32)),
        # TF Serving's REST documentation (g3doc/api_rest.md): 1435774380 becomes 1435774336.0
        ("f4", [[1435774380, 16777217, 2**40 + 1]], np.array([[1435774336.0, 16777216.0, 2.0**40]], np.float32)),
        ("f8", [[2**53 + 1, -(2**60) - 1]], np.array([[2.0**53, -(2.0**60)]], np.float64)),
        ("i4", [[1.0, -2.0, 3.0]], np.array([[1, -2, 3]], np.int32)),
        ("u8", [[18446744073709551615, 0, 1]], np.array([[2**64 - 1, 0, 1]], np.uint64)),
        ("?", [[True, False, True]], np.array([[True, False, True]])),
        ("i1", [], np.zeros((0,), np.int8)),
    ],
)
def test_json_numbers_convert_to_the_input_dtype(dtype, value, expected):
    _, inputs, _ = _decode(json.dumps({"inputs": value}).encode(), _spec(dtype))
    assert inputs["x"].dtype == expected.dtype
    np.testing.assert_array_equal(inputs["x"], expected)


@pytest.mark.parametrize(
    ("dtype", "body", "fragment"),
    [
        ("i4", b'{"inputs": [[1.5, 2, 3]]}', "got 1.5, which is not an integer"),
        ("i4", b'{"inputs": [[NaN, 2, 3]]}', "got NaN, which is not an integer"),
        ("i1", b'{"inputs": [[-129, 2, 3]]}', r"got -129 outside its range \[-128, 127\]"),
        ("u1", b'{"inputs": [[-1, 2, 3]]}', "got -1 outside its range"),
        ("i8", b'{"inputs": [[9223372036854775808.0, 1, 2]]}', "outside its range"),
        ("f2", b'{"inputs": [[70000.5, 1, 2]]}', "got 70000.5, which is outside the range of DT_HALF"),
        ("f2", b'{"inputs": [[65520, 1, 2]]}', "got 65520, which is outside the range of DT_HALF"),
        ("f4", b'{"inputs": [[true, 1, 2]]}', "true/false mixed with numbers"),
        ("?", b'{"inputs": [[1, 0, 1]]}', "expects DT_BOOL .JSON true/false., got JSON integers"),
        ("f4", b'{"inputs": [["1", 2, 3]]}', "expects DT_FLOAT numbers .* got the string '1'"),
        ("f4", b'{"inputs": [{"b64": "AAA="}, 1]}', 'expects DT_FLOAT numbers .* got a {"b64": ...} binary value'),
        ("f4", b'{"inputs": [{"b64": "AA$="}]}', "item 0 .* is not valid base64"),
        ("f4", b'{"inputs": [[1, 2], [3]]}', "ragged"),
        ("f4", b'{"inputs": ' + b"[" * 70 + b"1" + b"]" * 70 + b"}", "cannot read the value as a tensor"),
        ("f4", b'{"inputs": ' + b"[" * 40 + b"true" + b"]" * 40 + b"}", "nests lists 40 deep"),
        ("f4", b"{", "JSON Parse error"),
        ("f4", b" ", "the request body is empty"),
    ],
)
def test_refusals_name_what_was_expected_and_what_came(dtype, body, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        _decode(body, _spec(dtype))


def test_bool_check_is_skipped_when_the_body_has_no_bool_literals():
    """The (slower) mixed-bool scan runs only when `true`/`false` occur in the body."""
    _, inputs, _ = decode_predict({"inputs": [[True, 2, 3]]}, _lookup(_spec("f4")), has_bool_literals=False)
    np.testing.assert_array_equal(inputs["x"], np.array([[1, 2, 3]], np.float32))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"inputs": [[1.5e-05, NaN, -Infinity]]}', False),
        (b'{"inputs": [[true]]}', True),
        (b'{"instances": [false]}', True),
        (b'{"inputs": [[1]], "signature_name": "serving_default"}', False),
    ],
)
def test_bool_literal_scan(body, expected):
    assert may_hold_bools(body) is expected


def _strings(*values: bytes) -> np.ndarray:
    array = np.empty(len(values), dtype=STRING)
    array[:] = list(values)
    return array


def test_string_inputs_take_json_strings_and_b64():
    """tensorflow/serving util/json_tensor.cc: a DT_STRING value is a JSON string or {"b64": ...}."""
    body = b'{"instances": ["caf\xc3\xa9", {"b64": "AP8A"}, {"b64": "AA"}]}'
    _, inputs, _ = _decode(body, _spec(STRING, (-1,), "text"))
    assert inputs["text"].dtype == STRING
    assert list(inputs["text"]) == ["café".encode(), b"\x00\xff\x00", b"\x00"]


def test_numeric_inputs_take_b64_files_as_strings_for_the_image_step():
    body = b'{"inputs": {"image": [{"b64": "iVBORw=="}], "k": [1]}}'
    specs = {**_spec(np.float32, (-1, 8, 8, 3), "image"), **_spec(np.int64, (-1,), "k")}
    _, inputs, _ = _decode(body, specs)
    assert inputs["image"].dtype == STRING and list(inputs["image"]) == [b"\x89PNG"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"inputs": [1, "a"]}', "expects JSON strings or .* item 0 is the number 1"),
        (b'{"inputs": [{"b64": 5}]}', "item 0 is an object"),
        (b'{"inputs": [{"b64": "@@"}]}', "item 0 .* is not valid base64"),
        (b'{"inputs": [["a"], "b"]}', "item 0 is a list"),
        (b'{"inputs": ' + b"[" * 40 + b'"a"' + b"]" * 40 + b"}", "nests lists 40 deep; a tensor has at most 32"),
        (b'{"inputs": ' + b"[" * 100 + b'"a"' + b"]" * 100 + b"}", "nests lists 64 deep; a tensor has at most 32"),
    ],
)
def test_string_inputs_refuse_other_values(body, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        _decode(body, _spec(STRING, (-1,), "text"))


def test_string_outputs_are_json_strings_or_b64_for_bytes_names():
    """TF Serving's json_tensor.cc IsNamedTensorBytes: a DT_STRING output whose alias ends in
    _bytes is written as {"b64": ...}; other strings as JSON strings."""
    outputs = {"label": _strings(b"cat", b"dog"), "raw_bytes": _strings(b"\x00\xff", b"")}
    assert json.loads(encode_predict(Format.ROW, outputs)) == {
        "predictions": [{"label": "cat", "raw_bytes": {"b64": "AP8="}}, {"label": "dog", "raw_bytes": {"b64": ""}}]
    }
    assert json.loads(encode_predict(Format.COLUMN, {"label": _strings(b"cat")})) == {"outputs": ["cat"]}
