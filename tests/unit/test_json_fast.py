"""The simdjson fast path gives exactly what the general JSON path gives, or steps aside (None)
for every body it must not judge: ragged or mixed nesting, non-numbers, integers, duplicate keys."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ie_serving.dtypes import BFLOAT16
from ie_serving.errors import InvalidInput
from ie_serving.json_fast import decode_floats
from ie_serving.json_tensors import Format, decode_predict, may_hold_bools, parse_body
from ie_serving.tensor_spec import SIGNATURE, Signature, TensorSpec, find_signature


def _specs(dtype=np.float32, shape=None, name="x") -> dict[str, TensorSpec]:
    return {name: TensorSpec(name, np.dtype(dtype), shape)}


def _general(body: bytes, specs):
    signatures = {SIGNATURE: Signature(specs, {})}
    return decode_predict(parse_body(body), lambda name: find_signature(signatures, name), may_hold_bools(body))


def _image_body(key: str = "instances", shape=(1, 3, 32, 32)) -> tuple[bytes, np.ndarray]:
    array = np.random.default_rng(0).random(shape, dtype=np.float32)
    return orjson.dumps({key: array}, option=orjson.OPT_SERIALIZE_NUMPY), array


@pytest.mark.parametrize(("key", "form"), [("instances", Format.ROW), ("inputs", Format.COLUMN)])
@pytest.mark.parametrize("dtype", [np.float16, BFLOAT16, np.float32, np.float64])
def test_an_image_takes_the_fast_path_and_equals_the_general_one(key, form, dtype):
    body, array = _image_body(key)
    fast = decode_floats(body, _specs(dtype))
    assert fast is not None
    got_form, inputs, signature = fast
    want_form, want, want_signature = _general(body, _specs(dtype))
    assert (got_form, signature) == (form, want_signature) == (want_form, "")
    assert inputs["x"].dtype == want["x"].dtype == np.dtype(dtype)
    assert inputs["x"].shape == array.shape
    np.testing.assert_array_equal(inputs["x"], want["x"])
    if dtype == np.float32:
        np.testing.assert_array_equal(inputs["x"], array)


def test_signature_name_is_read():
    body = b'{"signature_name": "serving_default", "instances": [[1.5, 2, 3, 4, 5, 6, 7, 8]]}'
    form, inputs, signature = decode_floats(body, _specs())
    assert (form, signature) == (Format.ROW, "serving_default")
    np.testing.assert_array_equal(inputs["x"], [[1.5, 2, 3, 4, 5, 6, 7, 8]])


def test_steps_aside_for_another_signature():
    """Its inputs are not the default signature's: the general path looks the signature up."""
    body = b'{"signature_name": "serve", "instances": [[1.5, 2, 3, 4, 5, 6, 7, 8]]}'
    assert decode_floats(body, _specs()) is None


def test_a_bare_list_follows_sagemakers_rule_only_when_asked():
    """AWS's container (tensorflowServing.js generic_json_request): a list of lists holds the
    instances, a flat list is one instance."""
    body = b"[[1, 2, 3, 4, 5, 6, 7, 8]]"
    assert decode_floats(body, _specs()) is None
    form, inputs, _ = decode_floats(body, _specs(), bare_lists=True)
    assert form is Format.ROW
    np.testing.assert_array_equal(inputs["x"], [[1, 2, 3, 4, 5, 6, 7, 8]])
    _, inputs, _ = decode_floats(b"[1, 2, 3, 4, 5, 6, 7, 8]", _specs(), bare_lists=True)
    np.testing.assert_array_equal(inputs["x"], [[1, 2, 3, 4, 5, 6, 7, 8]])


ROW = "1, 2, 3, 4, 5, 6, 7, 8"
STEPS_ASIDE = {
    "ragged with the regular count": f'{{"instances": [[{ROW}], [{ROW}, 9], [1, 2, 3, 4, 5, 6, 7]]}}',
    "a list among the numbers": f'{{"instances": [[{ROW}], [1, 2, 3, 4, 5, 6, 7, [8]]]}}',
    "a list where a list of lists belongs": f'{{"instances": [[[{ROW}]], [{ROW}]]}}',
    "a number where a list belongs": f'{{"instances": [[{ROW}], 3]}}',
    "a bool": f'{{"instances": [[{ROW}, true]]}}',
    "a null": f'{{"instances": [[{ROW}, null]]}}',
    "a string": f'{{"instances": [[{ROW}, "9"]]}}',
    "NaN": f'{{"instances": [[{ROW}, NaN]]}}',
    "an integer float64 cannot hold exactly": f'{{"instances": [[{ROW}, 9007199254740993]]}}',
    "an integer beyond 64 bits": f'{{"instances": [[{ROW}, 99999999999999999999999]]}}',
    "a number beyond float64": f'{{"instances": [[{ROW}, 1e400]]}}',
    "duplicate keys": f'{{"instances": [[{ROW}]], "instances": [[{ROW}]]}}',
    "both formats": f'{{"instances": [[{ROW}]], "inputs": [[{ROW}]]}}',
    "an unknown key": f'{{"instances": [[{ROW}]], "extra": 1}}',
    "a bracket in the signature": f'{{"instances": [[{ROW}]], "signature_name": "["}}',
    "a signature that is not a string": f'{{"instances": [[{ROW}]], "signature_name": 1}}',
    "named inputs": f'{{"instances": [{{"x": [{ROW}]}}]}}',
    "an empty list": '{"instances": [[]]}',
    "a scalar": '{"inputs": 3.5}',
    "many short lists": json.dumps({"instances": [[1.0, 2.0]] * 100}),
    "not JSON": '{"instances": [[1, 2',
    "not UTF-8": b'{"instances": [[1, 2]], "signature_name": "\xff"}',
    "not an object": "7",
}


@pytest.mark.parametrize("body", list(STEPS_ASIDE.values()), ids=list(STEPS_ASIDE))
def test_steps_aside_for_what_the_general_path_must_judge(body):
    data = body if isinstance(body, bytes) else body.encode()
    assert decode_floats(data, _specs()) is None


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_steps_aside_for_non_float_inputs(dtype):
    assert decode_floats(f'{{"instances": [[{ROW}]]}}'.encode(), _specs(dtype)) is None


def test_steps_aside_for_models_with_several_inputs():
    specs = {**_specs(name="a"), **_specs(name="b")}
    assert decode_floats(f'{{"inputs": [[{ROW}]]}}'.encode(), specs) is None


def test_steps_aside_for_a_number_the_input_dtype_cannot_hold():
    body = f'{{"instances": [[{ROW}, 70000.5]]}}'.encode()  # above float16's largest, 65504
    with pytest.raises(InvalidInput, match="70000.5, which is outside the range of DT_HALF"):
        _general(body, _specs(np.float16))
    assert decode_floats(body, _specs(np.float16)) is None


NUMBERS = st.one_of(
    st.integers(-(2**30), 2**30),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([True, None, "1", [1.0]]),
)


def _nested(depth: int) -> st.SearchStrategy:
    leaf = st.lists(NUMBERS, min_size=1, max_size=10)
    return leaf if depth == 1 else st.lists(_nested(depth - 1), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    value=st.integers(1, 3).flatmap(_nested),
    key=st.sampled_from(["instances", "inputs"]),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
)
def test_any_body_gives_the_general_answer_or_none(value, key, dtype):
    """Regular or ragged, numbers or not: the fast path never disagrees with the general path."""
    body = json.dumps({key: value}).encode()
    specs = _specs(dtype)
    try:
        want = _general(body, specs)
    except InvalidInput:
        assert decode_floats(body, specs) is None
        return
    fast = decode_floats(body, specs)
    if fast is None:
        return
    assert fast[0] == want[0] and fast[2] == want[2]
    assert fast[1]["x"].dtype == want[1]["x"].dtype
    np.testing.assert_array_equal(fast[1]["x"], want[1]["x"])
