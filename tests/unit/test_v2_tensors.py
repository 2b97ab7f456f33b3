"""KServe v2 tensors and HTTP bodies <-> numpy without a server (v2_tensors, v2_http,
v2_proto): the JSON request and response of kserve/open-inference-protocol
specification/protocol/inference_rest.md, Triton's binary tensor data extension
(triton-inference-server/server docs/protocol/extension_binary_data.md: body layout,
binary_data_size, binary_data / binary_data_output, BYTES length prefixes, raw binary requests),
the gRPC ModelInferRequest contents (inference_grpc.md), and the messages for what is refused."""

from __future__ import annotations

import struct

import ml_dtypes
import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ie_serving.dtypes import BFLOAT16, NUMPY_BY_V2_NAME, v2_name
from ie_serving.errors import InvalidInput
from ie_serving.protos.inference import grpc_service_pb2 as pb
from ie_serving.tensor_spec import SIGNATURE, Signature, TensorSpec, find_signature, prepare_request
from ie_serving.v2_http import V2JsonBody, encode_response
from ie_serving.v2_proto import V2ProtoRequest, plain_parameters
from ie_serving.v2_proto import encode_response as encode_proto
from ie_serving.v2_tensors import InferRequest, RequestedOutput, raw_bytes

NUMERIC = [name for name in NUMPY_BY_V2_NAME if name != "BYTES"]
SPECS = {"x": TensorSpec("x", np.dtype(np.float32), (-1, 3))}


def _lookup(specs=SPECS):
    return lambda name: find_signature({SIGNATURE: Signature(specs, {"y": specs.get("x")})}, name)


def _decode(document: dict, binary: bytes = b"", header_length: str | None = None):
    header = orjson.dumps(document)
    if binary and header_length is None:
        header_length = str(len(header))
    decoder = V2JsonBody(header + binary, header_length)
    return decoder, decoder(_lookup())


def _input(data=None, datatype="FP32", shape=(1, 3), name="x", **parameters):
    tensor = {"name": name, "datatype": datatype, "shape": list(shape)}
    if data is not None:
        tensor["data"] = data
    if parameters:
        tensor["parameters"] = parameters
    return tensor


def _refused(document: dict, *fragments: str, binary: bytes = b"", header_length: str | None = None, kind=InvalidInput):
    with pytest.raises(kind) as caught:
        _decode(document, binary, header_length)
    for fragment in fragments:
        assert fragment in caught.value.message, (fragment, caught.value.message)


def test_every_datatype_has_a_numpy_dtype_and_back():
    """The spec's table: BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32, FP64, BYTES."""
    assert set(NUMPY_BY_V2_NAME) == {
        "BOOL",
        *(f"UINT{n}" for n in (8, 16, 32, 64)),
        *(f"INT{n}" for n in (8, 16, 32, 64)),
        "FP16",
        "BF16",
        "FP32",
        "FP64",
        "BYTES",
    }
    for name, dtype in NUMPY_BY_V2_NAME.items():
        assert v2_name(dtype) == name
    assert NUMPY_BY_V2_NAME["BF16"] == np.dtype(ml_dtypes.bfloat16)


def test_the_float_fast_path_and_the_general_parse_agree(monkeypatch):
    """FP32 data read by simdjson (a float64 buffer) and by orjson give the same arrays, the
    nesting unchecked in both (only the values count, in order, as Triton reads them)."""
    rng = np.random.default_rng(7)
    documents = [
        {"inputs": [_input(rng.standard_normal(6).tolist(), shape=(2, 3))]},
        {"inputs": [_input(rng.standard_normal((2, 3)).tolist(), shape=(2, 3))]},
        {"inputs": [_input([[1, 2.5], [3, 4, 5], [6]], shape=(2, 3))]},
        {"inputs": [_input([1, 2, 3], "FP64", (3,)), _input([1, 2], "INT64", (2,), name="z")], "id": "a"},
        {"inputs": [_input([2**60, 1, 2], "FP32", (3,))]},
    ]
    fast = [_decode(document)[1].inputs for document in documents]
    monkeypatch.setattr("ie_serving.v2_http._parse_with_float_arrays", lambda header: None)
    general = [_decode(document)[1].inputs for document in documents]
    for one, other in zip(fast, general, strict=True):
        assert one.keys() == other.keys()
        for name in one:
            assert one[name].dtype == other[name].dtype
            np.testing.assert_array_equal(one[name], other[name])


def test_the_float_fast_path_leaves_refusals_to_the_general_parse():
    """Booleans, strings or nulls among FP32 data are refused in the general parse's words."""
    _refused({"inputs": [_input([1.0, True, 2.0])]}, "takes numbers in 'data', got true/false among them")
    _refused({"inputs": [_input([1, False, 2], "INT32")]}, "takes numbers in 'data', got true/false among them")
    _refused({"inputs": [_input([1.0, "2", 3.0])]}, "takes numbers in 'data', got")


def test_flat_and_nested_json_data_give_the_same_array():
    """The spec: data is flat or nested in row-major order; id and outputs are kept."""
    flat = _decode({"id": "42", "inputs": [_input([1, 2, 3, 4, 5, 6], shape=(2, 3))], "outputs": [{"name": "y"}]})
    nested = _decode({"inputs": [_input([[1, 2, 3], [4, 5, 6]], shape=(2, 3))]})
    assert flat[1].inputs["x"].dtype == np.float32
    np.testing.assert_array_equal(flat[1].inputs["x"], nested[1].inputs["x"])
    assert flat[0].request.id == "42" and list(flat[1].output_filter) == ["y"]
    assert list(nested[1].output_filter) == []


@pytest.mark.parametrize(
    ("data", "datatype", "fragment"),
    [
        ([1.5, 2, 3], "INT32", "takes integers in 'data', got numbers with a fraction"),
        ([True, False, True], "FP32", "takes numbers in 'data', got true/false"),
        ([1, 0, 1], "BOOL", "takes true/false"),
        ([1, 2, 300], "INT8", "outside INT8's range [-128, 127]"),
        ([-1, 2, 3], "UINT16", "outside UINT16's range"),
        ([-1, 2, 2**64 - 1], "UINT64", "outside UINT64's range"),
        ([0.5, 2, 2**63], "UINT64", "takes integers in 'data', got numbers with a fraction"),
        (["a", "b", "c"], "FP32", "got strings"),
        ([1, 2], "FP32", "shape [1, 3] holds 3 elements, 'data' has 2"),
        ([[1, 2], [3, 4]], "FP32", "shape [1, 3] holds 3 elements, 'data' has 4"),
        ([[1, 2], [None]], "FP32", "takes numbers in 'data', got values of mixed types"),
        ([1, 2, 3], "FLOAT", "unknown datatype 'FLOAT'; expected one of FP32, FP64, FP16, BF16"),
    ],
)
def test_json_data_that_does_not_fit_is_refused(data, datatype, fragment):
    _refused({"inputs": [_input(data, datatype)]}, "input 'x'", fragment)


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"inputs": []}, "'inputs' must be a non-empty array"),
        ({"inputs": {"x": 1}}, "'inputs' must be a non-empty array"),
        ({"inputs": [_input([1, 2, 3]), _input([1, 2, 3])]}, "input 'x' is given twice"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "data": [1]}]}, "missing 'shape'"),
        ({"inputs": [_input([1, 2, 3], shape=(1, -3))]}, "'shape' must be an array of non-negative integers"),
        ({"inputs": [_input()]}, "expected 'data' or parameters.binary_data_size"),
        ({"id": 7, "inputs": [_input([1, 2, 3])]}, "'id' must be a string"),
        ({"inputs": [_input([1, 2, 3])], "parameters": [1]}, "'parameters' must be a JSON object"),
        ({"inputs": [_input([1, 2, 3])], "outputs": [{"name": 3}]}, "outputs[0]: 'name' must be a string"),
        ({"inputs": [_input([1, 2, 3])], "parameters": {"binary_data_output": 1}}, "must be true or false"),
    ],
)
def test_malformed_requests_name_the_problem(document, fragment):
    _refused(document, fragment)


def test_uint64_values_past_int64_stay_exact():
    """numpy reads [2**63, 0] as float64; the codec keeps every integer exact."""
    data = [2**64 - 1, 2**63, 0]
    _, decoded = _decode({"inputs": [_input(data, "UINT64", (3,))]})
    assert decoded.inputs["x"].dtype == np.uint64 and decoded.inputs["x"].tolist() == data


def test_invalid_json_and_empty_bodies_are_refused():
    with pytest.raises(InvalidInput, match="not valid JSON"):
        V2JsonBody(b'{"inputs": [')(_lookup())
    with pytest.raises(InvalidInput, match="body is empty"):
        V2JsonBody(b"")(_lookup())
    with pytest.raises(InvalidInput, match="the inference request must be a JSON object, got a list of 1 item"):
        V2JsonBody(b"[1]")(_lookup())


def test_binary_inputs_take_their_bytes_in_order():
    """extension_binary_data.md's example: two binary inputs after the JSON, in input order."""
    a = np.arange(4, dtype=np.uint32).reshape(2, 2)
    b = np.array([True, False, True])
    document = {
        "inputs": [
            _input(None, "UINT32", (2, 2), "a", binary_data_size=16),
            _input(None, "BOOL", (3,), "b", binary_data_size=3),
        ]
    }
    _, decoded = _decode(document, a.tobytes() + b.tobytes())
    np.testing.assert_array_equal(decoded.inputs["a"], a)
    np.testing.assert_array_equal(decoded.inputs["b"], b)


@pytest.mark.parametrize("datatype", ["FP16", "BF16"])
def test_16_bit_floats_travel_raw(datatype):
    values = np.array([[0.5, -2.0, 3.25]], dtype=NUMPY_BY_V2_NAME[datatype])
    _, decoded = _decode({"inputs": [_input(None, datatype, binary_data_size=6)]}, values.tobytes())
    assert decoded.inputs["x"].dtype == values.dtype
    np.testing.assert_array_equal(decoded.inputs["x"].astype(np.float32), values.astype(np.float32))


def test_bytes_elements_have_a_4_byte_length_prefix():
    elements = [b"ab", b"", b"\x00\xff\x10"]
    raw = b"".join(struct.pack("<I", len(e)) + e for e in elements)
    _, decoded = _decode({"inputs": [_input(None, "BYTES", (3,), binary_data_size=len(raw))]}, raw)
    assert list(decoded.inputs["x"]) == elements
    assert raw_bytes(decoded.inputs["x"]) == raw
    _, from_json = _decode({"inputs": [_input(["ab", "c"], "BYTES", (2,))]})
    assert list(from_json.inputs["x"]) == [b"ab", b"c"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (struct.pack("<I", 5) + b"abcd", "BYTES element 0 declares 5 bytes, only 4 remain"),
        (struct.pack("<I", 1) + b"a" + b"\x01\x00\x00", "BYTES data ends after 1 of 2 elements"),
        (struct.pack("<I", 1) + b"a" + struct.pack("<I", 0) + b"zz", "2 bytes left over after 2 BYTES elements"),
    ],
)
def test_broken_bytes_framing_is_refused(raw, fragment):
    _refused({"inputs": [_input(None, "BYTES", (2,), binary_data_size=len(raw))]}, fragment, binary=raw)


def test_a_bytes_shape_the_data_cannot_hold_is_refused_before_allocation():
    """A shape of 10^12 elements over 8 bytes: refused by arithmetic, no 8 TB object array."""
    raw = struct.pack("<I", 0) * 2
    _refused(
        {"inputs": [_input(None, "BYTES", (10**6, 10**6), binary_data_size=8)]},
        "1000000000000 BYTES elements need at least 4000000000000 bytes, the data is 8",
        binary=raw,
    )


@pytest.mark.parametrize(
    ("size", "binary", "header_length", "fragment"),
    [
        (12, b"\x00" * 8, None, "binary_data_size 12 reaches past the body's end: 8 bytes of binary data remain"),
        (8, b"\x00" * 8, None, "shape [1, 3] of FP32 is 12 bytes, the tensor data is 8 bytes"),
        (12, b"\x00" * 16, None, "4 bytes of binary data past the inputs' binary_data_size"),
        (12, b"\x00" * 12, "99999", "Inference-Header-Content-Length is 99999 bytes, past the end of the"),
        (12, b"\x00" * 12, "twelve", "Inference-Header-Content-Length must be a number of bytes, got 'twelve'"),
        (-1, b"\x00" * 12, None, "binary_data_size must be a non-negative integer, got -1"),
    ],
)
def test_truncated_or_inconsistent_binary_bodies_are_refused(size, binary, header_length, fragment):
    _refused({"inputs": [_input(None, binary_data_size=size)]}, fragment, binary=binary, header_length=header_length)


def test_binary_data_size_without_the_header_length_is_refused_naming_the_header():
    header = orjson.dumps({"inputs": [_input(None, binary_data_size=12)]})
    with pytest.raises(InvalidInput, match="binary_data_size needs the Inference-Header-Content-Length header"):
        V2JsonBody(header)(_lookup())
    with pytest.raises(InvalidInput, match="binary tensor data after the JSON needs the Inference-Header-Content"):
        V2JsonBody(header + b"\x00" * 12)(_lookup())


def test_data_and_binary_data_size_together_are_refused():
    _refused({"inputs": [_input([1, 2, 3], binary_data_size=12)]}, "either 'data' or parameters.binary_data_size")


def test_a_raw_binary_request_is_the_one_input_with_its_variable_dimension_deduced():
    """extension_binary_data.md "Raw Binary Request": Inference-Header-Content-Length 0, the
    body is the single input's bytes, every output comes back binary."""
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    decoder = V2JsonBody(x.tobytes(), "0")
    decoded = decoder(_lookup())
    np.testing.assert_array_equal(decoded.inputs["x"], x)
    assert decoder.request.binary_output is True


@pytest.mark.parametrize(
    ("specs", "body", "fragment"),
    [
        (SPECS, b"\x00" * 10, "input 'x' of shape [-1, 3] (FP32) cannot be 10 bytes"),
        (SPECS, b"", "the body is empty"),
        ({**SPECS, "z": SPECS["x"]}, b"\x00" * 12, "needs a model with one input; this one has ['x', 'z']"),
        ({"x": TensorSpec("x", np.dtype(np.float32), (-1, -1))}, b"\x00" * 12, "must be known but for one dimension"),
        ({"x": TensorSpec("x", np.dtype(np.float32), None)}, b"\x00" * 12, "must be known but for one dimension"),
        ({"x": TensorSpec("x", np.dtype(np.int8), (2, 2))}, b"\x00" * 5, "cannot be 5 bytes"),
    ],
)
def test_raw_binary_requests_the_model_cannot_take_are_refused(specs, body, fragment):
    with pytest.raises(InvalidInput) as caught:
        V2JsonBody(body, "0")(_lookup(specs))
    assert fragment in caught.value.message


def test_bytes_into_a_numeric_input_is_refused_by_the_pipeline_naming_v2_datatypes():
    """The one preparation (tensor_spec.prepare_request) names dtypes as the v2 client knows
    them: BYTES sent to a numeric input that takes no images, FP64 to an FP32 input."""
    decoder = V2JsonBody(orjson.dumps({"inputs": [_input(["a", "b", "c"], "BYTES", (1, 3))]}))
    with pytest.raises(InvalidInput, match="input 'x' expects FP32 of shape \\[-1, 3\\]; encoded images"):
        prepare_request({SIGNATURE: Signature(SPECS, {})}, decoder, "model m version 1")
    decoder = V2JsonBody(orjson.dumps({"inputs": [_input([1, 2, 3], "FP64", (1, 3))]}))
    with pytest.raises(InvalidInput, match="expects dtype FP32, got FP64"):
        prepare_request({SIGNATURE: Signature(SPECS, {})}, decoder, "model m version 1")


def _split(body: bytes, header_length: int | None):
    if header_length is None:
        return orjson.loads(body), b""
    return orjson.loads(body[:header_length]), body[header_length:]


def test_outputs_are_json_unless_binary_is_asked_for():
    outputs = {"y": np.array([[1.5, 2.0]], np.float32), "z": np.array([3, 4], np.int64)}
    body, length = encode_response("m", 3, InferRequest(id="9"), outputs)
    document, _ = _split(body, length)
    assert length is None
    assert document == {
        "model_name": "m",
        "model_version": "3",
        "id": "9",
        "outputs": [
            {"name": "y", "datatype": "FP32", "shape": [1, 2], "data": [1.5, 2.0]},
            {"name": "z", "datatype": "INT64", "shape": [2], "data": [3, 4]},
        ],
    }
    request = InferRequest(outputs=[RequestedOutput("z", False), RequestedOutput("y")], binary_output=True)
    body, length = encode_response("m", 3, request, outputs)
    document, binary = _split(body, length)
    assert "id" not in document
    assert document["outputs"][0]["parameters"] == {"binary_data_size": 8}
    assert document["outputs"][1]["data"] == [3, 4]
    assert binary == outputs["y"].tobytes()


def test_16_bit_float_outputs_are_written_as_their_values_in_json():
    outputs = {"h": np.array([0.5, 1.25], np.float16), "b": np.array([2.5], BFLOAT16)}
    document, _ = _split(*encode_response("m", 1, InferRequest(), outputs))
    assert [o["data"] for o in document["outputs"]] == [[0.5, 1.25], [2.5]]
    assert [o["datatype"] for o in document["outputs"]] == ["FP16", "BF16"]


def test_bytes_outputs_are_strings_in_json_and_length_prefixed_in_binary():
    outputs = {"text": np.array([b"hi", "é".encode(), b""], dtype=object)}
    document, _ = _split(*encode_response("m", 1, InferRequest(), outputs))
    assert document["outputs"][0] == {"name": "text", "datatype": "BYTES", "shape": [3], "data": ["hi", "é", ""]}
    body, length = encode_response("m", 1, InferRequest(binary_output=True), outputs)
    assert body[length:] == raw_bytes(outputs["text"]) == b"\x02\x00\x00\x00hi\x02\x00\x00\x00\xc3\xa9\x00\x00\x00\x00"
    with pytest.raises(InvalidInput, match="output 'raw' holds bytes that are not UTF-8 text"):
        encode_response("m", 1, InferRequest(), {"raw": np.array([b"\xff"], dtype=object)})


@settings(max_examples=60, deadline=None)
@given(data=st.data(), datatype=st.sampled_from(NUMERIC), binary=st.booleans())
def test_an_encoded_output_decodes_to_the_same_array(data, datatype, binary):
    """What the server writes for an output (JSON or binary), sent back as an input, is the same array."""
    dtype = NUMPY_BY_V2_NAME[datatype]
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    if dtype == BFLOAT16:
        array = data.draw(hnp.arrays(np.float32, shape, elements=st.sampled_from([0.0, 1.0, -2.5, 3.0]))).astype(dtype)
    else:
        array = data.draw(
            hnp.arrays(dtype, shape, elements=hnp.from_dtype(dtype, allow_nan=False, allow_infinity=False))
        )
    body, length = encode_response("m", 1, InferRequest(binary_output=binary), {"x": array})
    document, tail = _split(body, length)
    output = document["outputs"][0]
    decoder = V2JsonBody(*_request_from(output, tail))
    decoded = decoder(_lookup()).inputs["x"]
    assert decoded.dtype == dtype and decoded.shape == array.shape
    np.testing.assert_array_equal(decoded.astype(np.float64), array.astype(np.float64))


def _request_from(output: dict, tail: bytes) -> tuple[bytes, str | None]:
    header = orjson.dumps({"inputs": [output]})
    return (header + tail, str(len(header))) if tail else (header, None)


def _proto_request(**fields) -> pb.ModelInferRequest:
    return pb.ModelInferRequest(model_name="m", **fields)


def test_grpc_typed_contents_and_raw_contents_decode_alike():
    typed = _proto_request(
        id="a",
        inputs=[
            pb.ModelInferRequest.InferInputTensor(
                name="x", datatype="INT8", shape=[1, 3], contents=pb.InferTensorContents(int_contents=[1, -2, 3])
            )
        ],
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="y")],
    )
    raw = _proto_request(
        inputs=[pb.ModelInferRequest.InferInputTensor(name="x", datatype="INT8", shape=[1, 3])],
        raw_input_contents=[np.array([1, -2, 3], np.int8).tobytes()],
    )
    decoder = V2ProtoRequest(typed)
    from_typed = decoder(_lookup()).inputs["x"]
    from_raw = V2ProtoRequest(raw)(_lookup()).inputs["x"]
    assert from_typed.dtype == from_raw.dtype == np.int8
    np.testing.assert_array_equal(from_typed, from_raw)
    assert decoder.request.id == "a" and [o.name for o in decoder.request.outputs] == ["y"]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        (
            {
                "inputs": [pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1, 3])],
                "raw_input_contents": [b"", b""],
            },
            "raw_input_contents has 2 entries for 1 inputs",
        ),
        (
            {
                "inputs": [
                    pb.ModelInferRequest.InferInputTensor(
                        name="x", datatype="FP16", shape=[1], contents=pb.InferTensorContents(fp32_contents=[1])
                    )
                ]
            },
            "FP16 data must come in raw_input_contents",
        ),
        (
            {
                "inputs": [
                    pb.ModelInferRequest.InferInputTensor(
                        name="x", datatype="INT8", shape=[2], contents=pb.InferTensorContents(int_contents=[1, 200])
                    )
                ]
            },
            "outside INT8's range",
        ),
        (
            {
                "inputs": [
                    pb.ModelInferRequest.InferInputTensor(
                        name="x", datatype="FP32", shape=[1, 3], contents=pb.InferTensorContents(fp32_contents=[1])
                    )
                ]
            },
            "shape [1, 3] holds 3 elements, contents.fp32_contents has 1",
        ),
        (
            {
                "inputs": [pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1, 3])],
                "raw_input_contents": [b"\x00" * 11],
            },
            "shape [1, 3] of FP32 is 12 bytes, the tensor data is 11 bytes",
        ),
        ({}, "ModelInferRequest has no inputs"),
    ],
)
def test_grpc_requests_that_do_not_fit_are_refused(fields, fragment):
    with pytest.raises(InvalidInput) as caught:
        V2ProtoRequest(_proto_request(**fields))(_lookup())
    assert fragment in caught.value.message


def test_grpc_outputs_go_raw_in_order():
    outputs = {"b": np.array([True, False]), "h": np.array([[1.5]], np.float16)}
    response = encode_proto("m", 2, InferRequest(id="q"), outputs)
    assert (response.model_name, response.model_version, response.id) == ("m", "2", "q")
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [
        ("b", "BOOL", [2]),
        ("h", "FP16", [1, 1]),
    ]
    assert list(response.raw_output_contents) == [b"\x01\x00", outputs["h"].tobytes()]


def test_infer_and_repository_parameters_read_as_plain_values():
    """Both messages' parameter_choice oneof (inference/grpc_service.proto), one reader."""
    infer = pb.ModelInferRequest()
    infer.parameters["a"].bool_param = True
    infer.parameters["b"].int64_param = -3
    infer.parameters["c"].string_param = "s"
    infer.parameters["unset"].CopyFrom(pb.InferParameter())
    assert plain_parameters(infer.parameters) == {"a": True, "b": -3, "c": "s", "unset": None}
    load = pb.RepositoryModelLoadRequest()
    load.parameters["config"].string_param = "{}"
    load.parameters["file:1/model.xml"].bytes_param = b"<net/>"
    assert plain_parameters(load.parameters) == {"config": "{}", "file:1/model.xml": b"<net/>"}


@pytest.mark.parametrize(
    ("datatype", "data", "value"),
    [
        ("FP16", [1.0, 1e6, 2.0], "1000000.0"),
        ("FP16", [1, 100000, 2], "100000.0"),  # integers too (simdjson reads them as floats)
        ("FP16", [1, 2**60, 2], str(2**60)),  # past 2**53: the general parse, which keeps integers
        ("FP32", [1.0, -1e39, 2.0], "-1e+39"),
        ("BF16", [1e39, 1.0, 2.0], "1e+39"),
    ],
)
def test_json_numbers_past_a_float_datatypes_range_are_refused_not_made_infinite(datatype, data, value):
    """As TF Serving's REST API refuses them (json_tensors._to_float: "outside the range of"),
    rather than serving inf. Both JSON readers: the general parse and simdjson's float arrays."""
    _refused({"inputs": [_input(data, datatype)]}, "input 'x'", f"{value} in 'data' is outside {datatype}'s range")


def test_the_largest_finite_values_of_a_float_datatype_are_served():
    _, decoded = _decode({"inputs": [_input([65504.0, -65504, 0.5], "FP16")]})
    assert decoded.inputs["x"].dtype == np.float16 and decoded.inputs["x"].tolist() == [[65504.0, -65504.0, 0.5]]
    _, decoded = _decode({"inputs": [_input([3.4e38, -1.0, 0.0], "FP32")]})
    assert np.isfinite(decoded.inputs["x"]).all()
