"""Classify, Regress and MultiInference as TF Serving serves them, on models whose inputs are
named like the tf.Example features: `tensorflow_model_server` started with TF Serving's flags
and text config, driven by the official client (tensorflow-serving-api's classification_pb2,
regression_pb2, inference_pb2 and tf.train.Example, tests/tfclient/classify_client.py), by the
REST API with the JSON of TF Serving's g3doc/api_rest.md ("Classify and Regress API"), and
by SageMaker's /invocations with tfs-method (aws/sagemaker-tensorflow-serving-container:
tfs_utils.py make_tfs_uri, test/integration/local/test_container.py test_regress).

Answers are compared with TensorFlow's own answer (a SavedModel made by TensorFlow) and with
OpenVINO's own result (IR models). The rules: servables/tensorflow/classifier.cc,
regressor.cc, multi_inference.cc, util.cc; util/json_tensor.cc for the JSON."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import openvino as ov
import pytest
import requests
from openvino import opset13 as ops

from tests import models
from tests.framework_envs import run_tf
from tests.rest_helpers import assert_error
from tests.sagemaker_helpers import ServeProcess
from tests.server import TfModelServer

CLASSIFY, REGRESS = "tensorflow/serving/classify", "tensorflow/serving/regress"
# the classifier IR's examples: x f32 [3] and bias i64 [1] per example (no tied scores)
EXAMPLES = [{"x": [1.0, 0.0, -0.5], "bias": [0]}, {"x": [0.25, 1.5, 2.0], "bias": [1]}]


def _arrays(examples: list[dict]) -> dict[str, np.ndarray]:
    return {
        "x": np.array([e["x"] for e in examples], np.float32),
        "bias": np.array([e["bias"] for e in examples], np.int64),
    }


def _labeled_model() -> ov.Model:
    """Inputs x f32 [-1, 2] and names string [-1, 2] -> scores = x * 1 and classes = names: a
    classifier whose labels are strings, as TF Serving's classify signatures give them."""
    x = ops.parameter([-1, 2], np.float32, name="x")
    names = ops.parameter([-1, 2], ov.Type.string, name="names")
    scores = ops.multiply(x, ops.constant(np.float32(1.0)))
    classes = ops.reshape(names, ops.constant(np.array([-1, 2], np.int64)), False)
    scores.output(0).get_tensor().set_names({"scores"})
    classes.output(0).get_tensor().set_names({"classes"})
    return ov.Model([scores.output(0), classes.output(0)], [x, names], "labeled")


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("classify")
    models.save(models.classifier_model(), root / "classifier")
    models.save(models.regressor_model(), root / "regressor")
    models.save(models.scale_model(2.0), root / "scale")
    models.save(_labeled_model(), root / "labeled")
    renamed = models.save(models.classifier_model(), root / "renamed")
    (renamed / "mapping_config.json").write_text(json.dumps({"inputs": {"x": "petals", "bias": "offset"}}))
    run_tf("classify_client.py", "make", str(root / "tf"))
    entries = {
        "classifier": root / "classifier",
        "regressor": root / "regressor",
        "scale": root / "scale",
        "labeled": root / "labeled",
        "renamed": root / "renamed",
        "features": root / "tf" / "features",
        "tf_classify": root / "tf" / "tf_classify",
    }
    config = "model_config_list {\n"
    for name, path in entries.items():
        config += f'  config {{ name: "{name}" base_path: "{path}" model_platform: "tensorflow" }}\n'
    (root / "models.config").write_text(config + "}\n")
    return root


@pytest.fixture(scope="module")
def server(repository, tmp_path_factory):
    started = TfModelServer(
        [f"--model_config_file={repository / 'models.config'}"], tmp_path_factory.mktemp("log") / "tfms.log"
    )
    yield started
    started.stop()


def _official(server: TfModelServer, tmp_path: pathlib.Path, calls: list[dict]) -> list[dict]:
    (tmp_path / "calls.json").write_text(json.dumps(calls))
    result = run_tf("classify_client.py", "call", server.address, str(tmp_path / "calls.json"))
    answers = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert len(answers) == len(calls), result.stdout
    return answers


def test_official_client_on_a_tensorflow_savedmodel_matches_tensorflow(server, repository, tmp_path):
    """Classify reads "scores" (no classes output: empty labels, as TF Serving answers), Regress
    the "regress" signature's "outputs"; MultiInference runs both over one input with a context."""
    expected = json.loads((repository / "tf" / "expected.json").read_text())
    examples = expected["examples"]
    context_form = [{"x": examples[0]["x"]}, {"x": examples[1]["x"], "bias": examples[1]["bias"]}]
    classify, regress, multi = _official(
        server,
        tmp_path,
        [
            {"method": "classify", "model": "features", "examples": examples},
            {"method": "regress", "model": "features", "signature": "regress", "examples": examples},
            {
                "method": "multi",
                "model": "features",
                "tasks": [["", CLASSIFY], ["regress", REGRESS]],
                "context": {"bias": examples[0]["bias"]},
                "examples": context_form,
            },
        ],
    )
    assert classify["model_spec"] == ["features", "serving_default", 1]
    labels = [[label for label, _ in row] for row in classify["classifications"]]
    assert labels == [["", "", ""], ["", "", ""]]
    scores = [[score for _, score in row] for row in classify["classifications"]]
    np.testing.assert_allclose(scores, expected["scores"], rtol=1e-6)
    assert regress["model_spec"] == ["features", "regress", 1]
    np.testing.assert_allclose(regress["regressions"], np.ravel(expected["outputs"]), rtol=1e-6)
    first, second = multi["results"]
    assert first["model_spec"] == ["features", "serving_default", 1] and second["model_spec"][:2] == [
        "features",
        "regress",
    ]
    np.testing.assert_allclose(
        [[s for _, s in row] for row in first["classification_result"]], expected["scores"], rtol=1e-6
    )
    np.testing.assert_allclose(second["regression_result"], np.ravel(expected["outputs"]), rtol=1e-6)


def test_official_client_on_openvino_models_matches_openvino(server, repository, tmp_path):
    """The classifier's "classes" (integer ids) become the labels, its "scores" the scores."""
    classify, regress = _official(
        server,
        tmp_path,
        [
            {"method": "classify", "model": "classifier", "examples": EXAMPLES},
            {"method": "regress", "model": "regressor", "examples": [{"x": [1.0, 2.0]}, {"x": [-0.5, 0.25]}]},
        ],
    )
    direct = models.direct_infer(repository / "classifier" / "1" / "model.xml", _arrays(EXAMPLES))
    labels = [[label for label, _ in row] for row in classify["classifications"]]
    assert labels == [[str(c) for c in row] for row in direct["classes"].tolist()]
    np.testing.assert_allclose(
        [[s for _, s in row] for row in classify["classifications"]], direct["scores"], rtol=1e-6
    )
    x = np.array([[1.0, 2.0], [-0.5, 0.25]], np.float32)
    direct_regress = models.direct_infer(repository / "regressor" / "1" / "model.xml", {"x": x})["outputs"]
    assert regress["regressions"] == direct_regress.ravel().tolist()


def test_string_features_feed_a_string_input_and_string_classes_are_the_labels(server, repository, tmp_path):
    """A bytes_list feeds a DT_STRING input (tf.io.parse_example's FixedLenFeature(tf.string)),
    and a DT_STRING "classes" output gives the labels, as TF Serving's classifier.cc
    PostProcessClassificationResult reads them: official client and REST, against OpenVINO's
    own result on the same input."""
    examples = [{"x": [0.75, 0.25], "names": ["cat", "dog"]}, {"x": [0.5, 1.5], "names": ["caf\u00e9", "tea"]}]
    (classify,) = _official(server, tmp_path, [{"method": "classify", "model": "labeled", "examples": examples}])
    names = np.array([[n.encode() for n in e["names"]] for e in examples])  # fixed-width bytes, as OpenVINO takes them
    direct = models.direct_infer(
        repository / "labeled" / "1" / "model.xml",
        {"x": np.array([e["x"] for e in examples], np.float32), "names": names},
    )
    expected = [
        [[label.decode(), score] for label, score in zip(labels, scores, strict=True)]
        for labels, scores in zip(direct["classes"].tolist(), direct["scores"].tolist(), strict=True)
    ]
    assert [[list(pair) for pair in row] for row in classify["classifications"]] == expected
    rest = requests.post(f"{server.url}/v1/models/labeled:classify", json={"examples": examples}, timeout=30)
    assert rest.status_code == 200, rest.text
    assert rest.json() == {"results": expected}


def test_official_client_errors_have_tf_servings_codes_and_the_server_keeps_serving(server, tmp_path):
    one = [EXAMPLES[0]]
    answers = _official(
        server,
        tmp_path,
        [
            {"method": "classify", "model": "classifier", "examples": [{"x": [1.0, 0.0, -0.5]}]},
            {"method": "classify", "model": "classifier", "examples": [{"x": [1, 0, 0], "bias": [0]}]},
            {"method": "classify", "model": "classifier", "examples": []},
            {"method": "regress", "model": "classifier", "examples": one},
            {"method": "classify", "model": "classifier", "signature": "nope", "examples": one},
            {"method": "multi", "model": "features", "tasks": [["", CLASSIFY], ["", REGRESS]], "examples": one},
            {"method": "multi", "model": "features", "tasks": [["", "tensorflow/serving/predict"]], "examples": one},
            {"method": "multi", "model": "features", "tasks": [], "examples": one},
            {"method": "classify", "model": "nope", "examples": one},
            {"method": "classify", "model": "tf_classify", "examples": [{"x": [1.0, 0.0, 0.0]}]},
            {"method": "classify", "model": "classifier", "examples": [{"x": ["a", "b", "c"], "bias": [0]}]},
            {"method": "classify", "model": "classifier", "examples": one},
        ],
    )
    errors = [answer.get("error") for answer in answers]
    assert errors[0][0] == "INVALID_ARGUMENT" and "feature 'bias' is required" in errors[0][1]
    assert errors[1] == [
        "INVALID_ARGUMENT",
        "example 0: feature 'x' is an int64_list, but the model input is DT_FLOAT, which takes a float_list",
    ]
    assert errors[2] == ["INVALID_ARGUMENT", "Input is empty."]
    assert errors[3][0] == "INVALID_ARGUMENT" and 'Expected one output Tensor (or one named "outputs")' in errors[3][1]
    assert errors[4][0] == "INVALID_ARGUMENT" and "No signature was found with the name: nope" in errors[4][1]
    assert errors[5] == ["INVALID_ARGUMENT", "Duplicate evaluation of signature: serving_default"]
    assert errors[6][0] == "UNIMPLEMENTED" and "Unsupported signature method_name" in errors[6][1]
    assert errors[7] == ["INVALID_ARGUMENT", "ModelSpec has no name specified."]
    assert errors[8][0] == "NOT_FOUND"
    assert errors[9][0] == "NOT_FOUND"  # TF's own classify signature: OpenVINO cannot read it (below)
    assert errors[10][0] == "INVALID_ARGUMENT" and "bytes_list" in errors[10][1]
    assert errors[11] is None and len(answers[11]["classifications"]) == 1


def test_tf_classify_signature_is_not_loaded_and_its_status_says_why(server):
    """A deliberate difference (docs/grpc_api.md): TF's classify signature parses serialized
    examples inside the graph (ParseExampleV2), which OpenVINO does not convert."""
    status = requests.get(f"{server.url}/v1/models/tf_classify", timeout=10).json()
    message = status["model_version_status"][0]["status"]["error_message"]
    assert "['serving_default'] take serialized tf.Examples" in message, message
    assert "inputs named like the features" in message


def test_rest_classify_and_regress_with_api_rest_md_json(server, repository):
    body = {"signature_name": "", "examples": [{"x": e["x"], "bias": e["bias"][0]} for e in EXAMPLES]}
    response = requests.post(f"{server.url}/v1/models/classifier:classify", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    direct = models.direct_infer(repository / "classifier" / "1" / "model.xml", _arrays(EXAMPLES))
    results = response.json()["results"]
    assert [[label for label, _ in row] for row in results] == [
        [str(c) for c in row] for row in direct["classes"].tolist()
    ]
    np.testing.assert_allclose([[s for _, s in row] for row in results], direct["scores"], rtol=1e-6)

    context = {"context": {"bias": 1}, "examples": [{"x": EXAMPLES[0]["x"], "bias": 0}, {"x": EXAMPLES[1]["x"]}]}
    with_context = requests.post(f"{server.url}/v1/models/classifier/versions/1:classify", json=context, timeout=30)
    assert with_context.json() == response.json()

    regress = requests.post(
        f"{server.url}/v1/models/regressor:regress",
        data=b'{"examples": [{"x": [1.0, 2.0]}, {"x": [-0.5, 0.25]}]}',
        timeout=30,
    )
    x = np.array([[1.0, 2.0], [-0.5, 0.25]], np.float32)
    expected = models.direct_infer(repository / "regressor" / "1" / "model.xml", {"x": x})["outputs"].ravel()
    assert regress.json() == {"results": expected.tolist()}
    # mapping_config.json names the inputs like the features
    renamed = [{"petals": e["x"], "offset": e["bias"]} for e in EXAMPLES]
    answer = requests.post(f"{server.url}/v1/models/renamed:classify", json={"examples": renamed}, timeout=30)
    assert answer.json() == response.json()
    # a model with one output: its scores, empty labels
    scale = requests.post(
        f"{server.url}/v1/models/scale:classify", json={"examples": [{"x": [0.5, 1.0, 1.5, 2.0]}]}, timeout=30
    )
    assert scale.json() == {"results": [[["", 1.0], ["", 2.0], ["", 3.0], ["", 4.0]]]}


@pytest.mark.robustness(
    "REST classify/regress bodies TF Serving refuses: no examples, empty, wrong kinds, missing features, "
    "a model with no matching output",
    "400 with TF Serving's words, 404 for an unknown model, server keeps serving",
)
def test_rest_errors(server):
    url = f"{server.url}/v1/models/classifier"
    assert_error(
        requests.post(f"{url}:classify", json={"instances": [1]}, timeout=10), 400, "key 'examples' is expected"
    )
    assert_error(
        requests.post(f"{url}:classify", json={"examples": []}, timeout=10), 400, "'examples' value is an empty array"
    )
    assert_error(
        requests.post(f"{url}:classify", json={"examples": [{"x": [1.0, 2], "bias": 0}]}, timeout=10),
        400,
        "Unexpected element type in feature: x expecting type: float",
    )
    assert_error(
        requests.post(f"{url}:classify", json={"examples": [{"x": [1.0, 2.0, 3.0]}]}, timeout=10),
        400,
        "feature 'bias' is required",
    )
    assert_error(
        requests.post(f"{url}:regress", json={"examples": [{"x": [1.0, 2.0, 3.0], "bias": 0}]}, timeout=10),
        400,
        "Expected one output Tensor",
    )
    assert_error(
        requests.post(f"{url}:classify", json={"examples": [{"x": {"b64": "AAAA"}, "bias": 0}]}, timeout=10),
        400,
        "bytes_list",
    )
    assert_error(requests.post(f"{server.url}/v1/models/nope:classify", json={"examples": [{}]}, timeout=10), 404)
    ok = requests.post(f"{url}:classify", json={"examples": [{"x": [1.0, 2.0, 3.0], "bias": 0}]}, timeout=10)
    assert ok.status_code == 200 and len(ok.json()["results"][0]) == 3


def test_sagemaker_tfs_method_classify_and_regress(tmp_path):
    """AWS's container posts the body to :classify / :regress (tfs_utils.py make_tfs_uri); its
    test_regress sends {"examples": [{"x": 1.0}, {"x": 2.0}]} and reads {"results": [...]}."""
    models.save(models.regressor_model(), tmp_path / "model" / "regressor")
    models.save(models.classifier_model(), tmp_path / "model" / "classifier")
    serve = ServeProcess(tmp_path / "model", tmp_path / "serve.log").wait_ready()
    try:
        body = json.dumps({"examples": [{"x": [1.0, 2.0]}, {"x": [3.0, 0.5]}]}).encode()
        answer = serve.invoke(body, "application/json", attributes="tfs-model-name=regressor,tfs-method=regress")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"results": [-2.0, 4.0]}  # 1.5 x - 2 y + 0.5
        classify = serve.invoke(
            json.dumps({"examples": [{"x": EXAMPLES[0]["x"], "bias": 0}]}).encode(),
            "application/json",
            attributes="tfs-model-name=classifier,tfs-method=classify",
        )
        assert classify.status_code == 200 and [label for label, _ in classify.json()["results"][0]] == ["0", "1", "2"]
        assert_error(
            serve.invoke(b"1.0,2.0", "text/csv", attributes="tfs-model-name=regressor,tfs-method=regress"),
            400,
            "tfs-method=regress takes TF Serving's regress JSON",
        )
    finally:
        serve.stop()
