"""Classify / Regress / MultiInference without a model: tf.Examples batched into inputs
(ie_serving/tf_example.py), TF Serving's JSON read and written (json_examples.py; its
util/json_tensor.cc FillClassifyRegressRequestFromJson, MakeJsonFromClassificationResult),
and which outputs a task reads and how they are checked (inference_tasks.py; TF Serving's
servables/tensorflow/classifier.cc, regressor.cc, multi_inference.cc). tests/functional/
test_classify.py drives the same code through real servers and the official client."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ie_serving.errors import FailedPrecondition, InvalidInput, Unimplemented
from ie_serving.inference_tasks import Classifications, ExamplesDecoder, Method, Regressions, Task
from ie_serving.json_examples import decoder, encode_results, parse_request
from ie_serving.json_tensors import to_array
from ie_serving.protos.tensorflow.core.example import example_pb2
from ie_serving.protos.tensorflow_serving.apis import input_pb2
from ie_serving.tensor_spec import Signature, TensorSpec, find_signature
from ie_serving.tf_example import batch_inputs

F32, I64 = np.dtype(np.float32), np.dtype(np.int64)
STR = np.dtype(object)


def _example(**features) -> example_pb2.Example:
    example = example_pb2.Example()
    for name, values in features.items():
        feature = example.features.feature[name]
        if isinstance(values[0], float):
            feature.float_list.value.extend(values)
        elif isinstance(values[0], bytes):
            feature.bytes_list.value.extend(values)
        else:
            feature.int64_list.value.extend(values)
    return example


def _input(*examples: example_pb2.Example, context: example_pb2.Example | None = None) -> input_pb2.Input:
    request_input = input_pb2.Input()
    if context is None:
        request_input.example_list.examples.extend(examples)
    else:
        request_input.example_list_with_context.context.CopyFrom(context)
        request_input.example_list_with_context.examples.extend(examples)
    return request_input


def _specs(**shapes) -> dict[str, TensorSpec]:
    return {name: TensorSpec(name, dtype, shape) for name, (dtype, shape) in shapes.items()}


def test_each_input_is_the_feature_of_its_name_batched_over_the_examples():
    specs = _specs(x=(F32, (-1, 2)), n=(np.dtype(np.int32), (-1,)))
    arrays = batch_inputs(
        specs, _input(_example(x=[1.0, 2.0], n=[3], extra=[b"ignored"]), _example(x=[0.5, 0.0], n=[-4]))
    )
    assert arrays["x"].dtype == F32 and arrays["x"].tolist() == [[1.0, 2.0], [0.5, 0.0]]
    assert arrays["n"].dtype == np.int32 and arrays["n"].tolist() == [3, -4]


def test_context_features_fill_every_example_and_an_examples_own_feature_wins():
    """util.cc InputToSerializedExampleTensor: context bytes then example bytes, so the example's map entry wins."""
    arrays = batch_inputs(
        _specs(x=(F32, (-1, 1)), b=(I64, (-1, 1))),
        _input(_example(x=[1.0]), _example(x=[2.0], b=[9]), context=_example(b=[5])),
    )
    assert arrays["b"].tolist() == [[5], [9]] and arrays["x"].tolist() == [[1.0], [2.0]]


def test_shapes_follow_the_input_one_dynamic_dimension_is_inferred():
    assert batch_inputs(_specs(x=(F32, (-1, 2, 2))), _input(_example(x=[1.0, 2.0, 3.0, 4.0])))["x"].shape == (1, 2, 2)
    assert batch_inputs(_specs(x=(F32, (-1, -1))), _input(_example(x=[1.0] * 5)))["x"].shape == (1, 5)
    assert batch_inputs(_specs(x=(F32, None)), _input(_example(x=[1.0] * 3)))["x"].shape == (1, 3)
    with pytest.raises(InvalidInput, match=r"has 3 value\(s\); the model input has shape \[-1, 2\]"):
        batch_inputs(_specs(x=(F32, (-1, 2))), _input(_example(x=[1.0, 2.0, 3.0])))
    with pytest.raises(InvalidInput, match=r"example 1: feature 'x' has 1 value\(s\), example 0 has 2"):
        batch_inputs(_specs(x=(F32, (-1, -1))), _input(_example(x=[1.0, 2.0]), _example(x=[1.0])))
    with pytest.raises(InvalidInput, match="more than one dynamic dimension"):
        batch_inputs(_specs(x=(F32, (-1, -1, -1))), _input(_example(x=[1.0])))
    with pytest.raises(InvalidInput, match=r"scalar \(shape \[\]\)"):
        batch_inputs(_specs(x=(F32, ())), _input(_example(x=[1.0])))


def test_missing_feature_wrong_kind_and_range_are_refused_by_name():
    with pytest.raises(InvalidInput, match=r"example 1: feature 'x' is required .* the example has features \['y'\]"):
        batch_inputs(_specs(x=(F32, (-1, 1))), _input(_example(x=[1.0]), _example(y=[1.0])))
    with pytest.raises(
        InvalidInput, match="feature 'x' is an int64_list, but the model input is DT_FLOAT, which takes a float_list"
    ):
        batch_inputs(_specs(x=(F32, (-1, 1))), _input(_example(x=[1])))
    with pytest.raises(InvalidInput, match="is a bytes_list, but the model input is DT_INT64, which takes an int64"):
        batch_inputs(_specs(x=(I64, (-1, 1))), _input(_example(x=[b"a"])))
    with pytest.raises(InvalidInput, match="is a float_list, but the model input is DT_STRING, which takes a bytes"):
        batch_inputs(_specs(x=(STR, (-1, 1))), _input(_example(x=[1.0])))
    with pytest.raises(InvalidInput, match=r"70000 is outside the range \[-32768, 32767\] of the input's DT_INT16"):
        batch_inputs(_specs(x=(np.dtype(np.int16), (-1,))), _input(_example(x=[70000])))
    with pytest.raises(InvalidInput, match="outside the range of the input's DT_HALF"):
        batch_inputs(_specs(x=(np.dtype(np.float16), (-1,))), _input(_example(x=[1e6])))
    with pytest.raises(InvalidInput, match=r"^Input is empty\.$"):
        batch_inputs(_specs(x=(F32, (-1,))), input_pb2.Input())


def test_a_string_input_takes_a_bytes_list_as_an_object_array_of_bytes():
    """tf.io.parse_example's FixedLenFeature(dtype=tf.string) reads a bytes_list; zero bytes kept."""
    arrays = batch_inputs(
        _specs(text=(STR, (-1, 2)), x=(F32, (-1, 1))),
        _input(_example(x=[1.0]), _example(x=[2.0], text=[b"own", b"\0z"]), context=_example(text=[b"a", b"bc"])),
    )
    assert arrays["text"].dtype == STR and arrays["text"].tolist() == [[b"a", b"bc"], [b"own", b"\0z"]]
    assert arrays["x"].tolist() == [[1.0], [2.0]]


def test_string_values_count_their_bytes_against_the_memory_bound(monkeypatch):
    """A context bytes value is copied into every example's row: 300 rows of 8 + 100 bytes pass
    10000 (their pointers alone would not), 3 rows do not."""
    monkeypatch.setattr("ie_serving.tf_example.MAX_BATCH_BYTES", 10000)
    specs, context = _specs(t=(STR, (-1, 1))), _example(t=[b"v" * 100])
    examples = [_example(y=[1]) for _ in range(300)]
    with pytest.raises(InvalidInput, match="300 examples of 1 value"):
        batch_inputs(specs, _input(*examples, context=context))
    assert batch_inputs(specs, _input(*examples[:3], context=context))["t"].shape == (3, 1)


def test_a_context_repeated_past_the_memory_bound_is_refused_before_allocation(monkeypatch):
    monkeypatch.setattr("ie_serving.tf_example.MAX_BATCH_BYTES", 1000)
    examples = [_example(y=[1]) for _ in range(300)]
    with pytest.raises(InvalidInput, match="300 examples of 1 value"):
        batch_inputs(_specs(x=(F32, (-1, 1))), _input(*examples, context=_example(x=[1.0])))


@pytest.mark.parametrize("text", ["aGk=", "aGk", "aA", "a", "aGk=!", "\u00e9"])
def test_json_examples_read_b64_as_predict_does(text):
    """One {"b64": ...} reader for predict and classify JSON, as TF Serving's one
    JsonDecodeBase64Object (util/json_tensor.cc, absl::Base64Unescape: '=' padding optional)."""
    spec = TensorSpec("t", STR, (-1,))
    try:
        expected = to_array("t", [{"b64": text}], spec).tolist()
    except InvalidInput:
        with pytest.raises(InvalidInput, match=r"^Unable to base64 decode$"):
            parse_request(json.dumps({"examples": [{"t": {"b64": text}}]}).encode(), "classify")
        return
    _, request_input = parse_request(json.dumps({"examples": [{"t": {"b64": text}}]}).encode(), "classify")
    assert list(request_input.example_list.examples[0].features.feature["t"].bytes_list.value) == expected


def test_json_examples_as_tf_serving_reads_them():
    """api_rest.md's request: context and examples, a value or a list, b64 bytes, ints and floats apart."""
    body = b"""{"signature_name": "s", "context": {"c": "text"},
                "examples": [{"f": 1.5, "i": [1, 2], "b": {"b64": "aGk="}, "t": true}, {"f": [2.0, 3e0]}]}"""
    signature_name, request_input = parse_request(body, "classify")
    assert signature_name == "s"
    listed = request_input.example_list_with_context
    assert listed.context.features.feature["c"].bytes_list.value == [b"text"]
    first, second = (e.features.feature for e in listed.examples)
    assert first["f"].float_list.value == [1.5] and first["i"].int64_list.value == [1, 2]
    assert first["b"].bytes_list.value == [b"hi"] and first["t"].int64_list.value == [1]
    assert second["f"].float_list.value == [2.0, 3.0]
    assert parse_request(b'{"examples": [{"x": 1.0}]}', "regress")[1].WhichOneof("kind") == "example_list"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"instances": [1]}', "When method is classify, key 'examples' is expected and was not found"),
        (b'{"examples": {"x": 1}}', "Expecting 'examples' value to be an list/array"),
        (b'{"examples": null}', "Expecting 'examples' value to be an list/array"),
        (b'{"context": 1}', "Example must be JSON object but got JSON NUMBER"),
        (b'{"examples": []}', "'examples' value is an empty array"),
        (b'{"examples": [1]}', "Example must be JSON object but got JSON NUMBER"),
        (b'{"signature_name": 3, "examples": [{}]}', "'signature_name' key must be a string value"),
        (b'{"examples": [{"x": [1.0, 2]}]}', "Unexpected element type in feature: x expecting type: float"),
        (b'{"examples": [{"x": null}]}', "Feature: x has element with unexpected JSON type: NULL"),
        (b'{"examples": [{"x": [[1.0]]}]}', "Feature: x has element with unexpected JSON type: ARRAY"),
        (b'{"examples": [{"x": 9223372036854775808}]}', "Only int64_t is supported"),
        (b'{"examples": [{"x": {"b64": "***"}}]}', "Unable to base64 decode"),
        (b"[1]", "Is not an object"),
    ],
)
def test_json_bodies_tf_serving_refuses_are_refused_with_its_words(body, words):
    with pytest.raises(InvalidInput) as caught:
        parse_request(body, "classify")
    assert words in caught.value.message


def test_answers_are_tf_servings_json():
    """json_tensor.cc MakeJsonFromClassificationResult / MakeJsonFromRegressionResult: key "results"."""
    scores = np.array([[0.2, 0.8]], np.float32)
    assert encode_results(Classifications([["a", "b"]], scores)) == b'{"results":[[["a",0.2],["b",0.8]]]}'
    assert encode_results(Classifications(None, scores)) == b'{"results":[[["",0.2],["",0.8]]]}'
    assert encode_results(Classifications([["7"]], None)) == b'{"results":[[["7",0.0]]]}'
    assert encode_results(Regressions(np.array([3.5, 4.0], np.float32))) == b'{"results":[3.5,4.0]}'
    odd = np.array([np.nan, np.inf, -np.inf, 0.1], np.float32)
    assert encode_results(Regressions(odd)) == b'{"results":[NaN,Infinity,-Infinity,0.1]}'
    assert encode_results(Classifications(None, odd[None, :2])) == b'{"results":[[["",NaN],["",Infinity]]]}'


def _lookup(**signatures: Signature):
    return lambda name: find_signature(signatures, name)


def _signature(**outputs: tuple) -> Signature:
    return Signature(_specs(x=(F32, (-1, 1))), _specs(**outputs))


ONE_EXAMPLE = _input(_example(x=[1.0]), _example(x=[2.0]))


def test_classify_reads_scores_and_classes_or_a_single_output_as_scores():
    both = ExamplesDecoder([Task(Method.CLASSIFY)], ONE_EXAMPLE)
    decoded = both(
        _lookup(serving_default=_signature(scores=(F32, (-1, 2)), classes=(I64, (-1, 2)), other=(F32, None)))
    )
    assert decoded.output_filter == ["classes", "scores"] and decoded.inputs["x"].tolist() == [[1.0], [2.0]]
    result = both.results(
        {"scores": np.array([[0.9, 0.1], [0.3, 0.7]], np.float32), "classes": np.array([[1, 0], [0, 1]])}
    )
    assert result[0].rows()[1] == [("0", np.float32(0.3)), ("1", np.float32(0.7))]
    single = ExamplesDecoder([Task(Method.CLASSIFY)], ONE_EXAMPLE)
    assert single(_lookup(serving_default=_signature(y=(F32, (-1, 3))))).output_filter == ["y"]
    assert single.results({"y": np.zeros((2, 3), np.float64)})[0].labels is None
    several = ExamplesDecoder([Task(Method.CLASSIFY)], ONE_EXAMPLE)
    with pytest.raises(InvalidInput, match=r'at least one of "classes" or "scores".*\[\'a\', \'b\'\]'):
        several(_lookup(serving_default=_signature(a=(F32, None), b=(F32, None))))


def test_string_classes_are_the_labels_as_tf_serving_reads_them():
    """classifier.cc PostProcessClassificationResult: classes is DT_STRING, each label its text;
    bytes that are not UTF-8 become U+FFFD, as string outputs do in JSON."""
    task = ExamplesDecoder([Task(Method.CLASSIFY)], ONE_EXAMPLE)
    task(_lookup(serving_default=_signature(scores=(F32, (-1, 2)), classes=(STR, (-1, 2)))))
    classes = np.array([[b"cat", b"dog"], ["caf\u00e9".encode(), b"\xff"]], dtype=STR)
    result = task.results({"scores": np.array([[0.9, 0.1], [0.3, 0.7]], np.float32), "classes": classes})
    assert result[0].labels == [["cat", "dog"], ["caf\u00e9", "\ufffd"]]
    assert encode_results(result[0]).startswith(b'{"results":[[["cat",0.9],["dog",0.1]],[["caf\xc3\xa9",0.3]')
    with pytest.raises(InvalidInput, match="Expected classes Tensor of DT_STRING .*Got: DT_FLOAT"):
        task.results({"scores": np.zeros((2, 2), np.float32), "classes": np.zeros((2, 2), np.float32)})


def test_regress_reads_outputs_or_the_only_output_and_checks_its_shape():
    named = ExamplesDecoder([Task(Method.REGRESS, "r")], ONE_EXAMPLE)
    assert named(_lookup(r=_signature(outputs=(F32, (-1, 1)), scores=(F32, None)))).output_filter == ["outputs"]
    assert named.results({"outputs": np.array([[1.5], [2.5]], np.float32)})[0].values.tolist() == [1.5, 2.5]
    with pytest.raises(InvalidInput, match=r"either \[batch_size\] or \[batch_size, 1\] but got \[2, 3\]"):
        named.results({"outputs": np.zeros((2, 3), np.float32)})
    with pytest.raises(InvalidInput, match="Input batch size did not match output batch size: 2 vs. 1"):
        named.results({"outputs": np.zeros((1,), np.float32)})
    with pytest.raises(InvalidInput, match="Expected output Tensor of DT_FLOAT. Got: DT_INT64"):
        named.results({"outputs": np.zeros((2,), np.int64)})
    several = ExamplesDecoder([Task(Method.REGRESS)], ONE_EXAMPLE)
    with pytest.raises(InvalidInput, match='Expected one output Tensor \\(or one named "outputs"\\)'):
        several(_lookup(serving_default=_signature(a=(F32, None), b=(F32, None))))


def test_multi_inference_runs_tasks_once_under_tf_servings_rules():
    signature = _signature(scores=(F32, (-1, 2)), outputs=(F32, (-1,)))
    lookup = _lookup(serving_default=signature, regress=signature)
    tasks = ExamplesDecoder([Task(Method.CLASSIFY), Task(Method.REGRESS, "regress")], ONE_EXAMPLE)
    assert tasks(lookup).output_filter == ["scores", "outputs"]
    answers = tasks.results({"scores": np.ones((2, 2), np.float32), "outputs": np.array([1, 2], np.float32)})
    assert isinstance(answers[0], Classifications) and isinstance(answers[1], Regressions)
    with pytest.raises(InvalidInput, match="^Duplicate evaluation of signature: serving_default$"):
        ExamplesDecoder([Task(Method.CLASSIFY), Task(Method.REGRESS, "serving_default")], ONE_EXAMPLE)(lookup)
    with pytest.raises(InvalidInput, match="No signature was found with the name: nope"):
        ExamplesDecoder([Task(Method.CLASSIFY, "nope")], ONE_EXAMPLE)(lookup)
    with pytest.raises(Unimplemented, match="Unsupported signature method_name: tensorflow/serving/predict"):
        Method.named("tensorflow/serving/predict")
    assert not issubclass(InvalidInput, FailedPrecondition)  # TF Serving: INVALID_ARGUMENT, not FAILED_PRECONDITION


def test_the_json_decoder_names_its_method():
    assert decoder(b'{"examples": [{"x": 1.0}]}', "regress").tasks == [Task(Method.REGRESS, "")]
    assert decoder(b'{"signature_name": "s", "examples": [{"x": 1.0}]}', "classify").tasks == [
        Task(Method.CLASSIFY, "s")
    ]


def test_the_signature_is_checked_before_the_examples_as_in_tf_serving():
    """classifier.cc RunClassify: GetClassificationSignatureDef, then the input ("Input is empty.")."""
    lookup = _lookup(serving_default=_signature(a=(F32, None), b=(F32, None)))
    with pytest.raises(InvalidInput, match="No signature was found with the name: nope"):
        ExamplesDecoder([Task(Method.CLASSIFY, "nope")], input_pb2.Input())(lookup)
    with pytest.raises(InvalidInput, match='at least one of "classes" or "scores"'):
        ExamplesDecoder([Task(Method.CLASSIFY)], input_pb2.Input())(lookup)
    with pytest.raises(InvalidInput, match=r"^Input is empty\.$"):
        ExamplesDecoder([Task(Method.REGRESS, "")], input_pb2.Input())(
            _lookup(serving_default=_signature(outputs=(F32, None)))
        )
