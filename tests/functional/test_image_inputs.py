"""Encoded images and string tensors on every path, against real servers and real clients.

The same picture goes over gRPC as a DT_STRING tensor (the official TF Serving client,
tensorflow/serving tensorflow_serving/example/resnet_client_grpc.py sends the JPEG's bytes
so), over REST as {"b64": ...} in the row and column formats (tensorflow/serving
g3doc/api_rest.md "Encoding binary values"), and to SageMaker's /invocations as the body with
Content-Type application/x-image, image/jpeg or image/png (plain HTTP, botocore's
InvokeEndpoint, and the SageMaker Python SDK's DataSerializer); every answer equals OpenVINO's
own on the decoded array: the PNG's exact pixels, the JPEG's pixels as Pillow decodes them
(and those within JPEG's loss of the original). Bad files are 400 / INVALID_ARGUMENT naming
what was expected, and the server keeps serving. A model with OpenVINO string inputs and
outputs serves DT_STRING and JSON strings, `_bytes` outputs as {"b64": ...}
(tensorflow/serving util/json_tensor.cc IsNamedTensorBytes).
"""

from __future__ import annotations

import base64
import io
import json
import pathlib

import boto3
import grpc
import numpy as np
import pytest
import requests
from PIL import Image

from ie_serving.protos.tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
from ie_serving.tensor_proto import to_proto
from tests import models
from tests.framework_envs import run_sagemaker, run_tf
from tests.image_files import encode, jpeg_decoded, picture, png_bomb
from tests.rest_helpers import RestServer, assert_error, write_config
from tests.sagemaker_helpers import ServeProcess

PICTURES = [picture(16, 16, seed) for seed in range(3)]
PNGS = [encode(p) for p in PICTURES]
JPEG = encode(PICTURES[0], "JPEG", quality=95, subsampling=0)
BIG_PNG = encode(picture(40, 24, 5))  # 24x40 (width x height): resized to the model's 16x16


@pytest.fixture(scope="module")
def irs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    root = tmp_path_factory.mktemp("image_inputs")
    return {
        "image": models.save(models.image_model(), root / "image") / "model.xml",
        "nchw": models.save(models.image_model((-1, 3, 16, 16)), root / "nchw") / "model.xml",
        "anysize": models.save(models.image_model((-1, -1, -1, 3)), root / "anysize") / "model.xml",
        "strings": models.save(models.strings_model(), root / "strings") / "model.xml",
    }


@pytest.fixture(scope="module")
def server(irs: dict[str, pathlib.Path]):
    root = irs["image"].parent.parent.parent
    entries = [{"name": name, "base_path": str(path.parent.parent)} for name, path in irs.items()]
    entries[1]["color_format"] = "BGR"  # nchw: channels reversed, then laid out NCHW
    config = write_config(root / "config.json", entries)
    process = RestServer(["config", "--config_path", str(config)], root / "server.log").wait_ready(120)
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory):
    """SageMaker's `serve` on a model directory with the one image model."""
    root = tmp_path_factory.mktemp("image_serve")
    models.save(models.image_model(), root / "model" / "image")
    process = ServeProcess(root / "model", root / "serve.log").wait_ready(120)
    yield process
    assert process.stop() == 0


def openvino(irs: dict[str, pathlib.Path], model: str, pixels: list[np.ndarray]) -> np.ndarray:
    """OpenVINO's own scores for these NHWC uint8 pictures, as float32."""
    return models.direct_infer(irs[model], {"image": np.stack(pixels).astype(np.float32)})["scores"]


def _rest(server: RestServer, model: str, body: object) -> requests.Response:
    return requests.post(f"{server.url}/v1/models/{model}:predict", json=body, timeout=60)


def _b64(data: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(data).decode()}


def _files(tmp_path: pathlib.Path, *contents: bytes) -> list[str]:
    paths = []
    for index, data in enumerate(contents):
        path = tmp_path / f"file{index}"
        path.write_bytes(data)
        paths.append(str(path))
    return paths


def _tf_client(tmp_path: pathlib.Path, server: RestServer, model: str, input_name: str, *contents: bytes) -> dict:
    result = run_tf("string_client.py", server.address, model, input_name, *_files(tmp_path, *contents))
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_official_tf_client_sends_png_and_jpeg_as_dt_string(tmp_path, server, irs):
    answer = _tf_client(tmp_path, server, "image", "image", *PNGS, JPEG)
    assert answer["input_dtype"] == "string"
    scores = answer["outputs"]["scores"]
    assert scores["dtype"] == "float32" and scores["shape"] == [4, 4]
    got = np.array(scores["values"], np.float32).reshape(4, 4)
    np.testing.assert_array_equal(got[:3], openvino(irs, "image", PICTURES))
    np.testing.assert_array_equal(got[3:], openvino(irs, "image", [jpeg_decoded(JPEG)]))
    np.testing.assert_allclose(got[3:], openvino(irs, "image", PICTURES[:1]), atol=0.02)


def test_rest_b64_in_row_and_column_formats(server, irs):
    expected = openvino(irs, "image", PICTURES)
    rows = _rest(server, "image", {"instances": [_b64(data) for data in PNGS]})
    assert rows.status_code == 200, rows.text
    np.testing.assert_array_equal(np.array(rows.json()["predictions"], np.float32), expected)
    columns = _rest(server, "image", {"inputs": {"image": [_b64(data) for data in PNGS]}})
    assert columns.status_code == 200, columns.text
    np.testing.assert_array_equal(np.array(columns.json()["outputs"], np.float32), expected)


def test_bgr_option_and_nchw_layout(server, irs):
    """The nchw model is served with color_format BGR: its input gets the channels reversed."""
    answer = _rest(server, "nchw", {"instances": [_b64(PNGS[1])]})
    assert answer.status_code == 200, answer.text
    bgr_nchw = PICTURES[1][:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)
    expected = models.direct_infer(irs["nchw"], {"image": bgr_nchw})["scores"]
    np.testing.assert_array_equal(np.array(answer.json()["predictions"], np.float32), expected)


def test_pictures_of_another_size_are_resized_to_the_models(server, irs):
    answer = _rest(server, "image", {"instances": [_b64(BIG_PNG)]})
    assert answer.status_code == 200, answer.text
    with Image.open(io.BytesIO(BIG_PNG)) as image:
        resized = np.asarray(image.resize((16, 16), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(np.array(answer.json()["predictions"], np.float32), openvino(irs, "image", [resized]))


@pytest.mark.parametrize("content_type", ["application/x-image", "image/png"])
def test_sagemaker_invocations_take_the_file_as_the_body(serve, irs, content_type):
    answer = requests.post(f"{serve.url}/invocations", data=PNGS[2], headers={"Content-Type": content_type}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert list(answer.json()) == ["predictions"]
    np.testing.assert_array_equal(
        np.array(answer.json()["predictions"], np.float32), openvino(irs, "image", PICTURES[2:])
    )


def test_sagemaker_botocore_and_sdk_send_a_jpeg(tmp_path, serve, irs):
    """botocore's InvokeEndpoint (what a deployed endpoint's client calls) and the SageMaker
    SDK's TensorFlowPredictor with DataSerializer(content_type="image/jpeg") (a file path)."""
    expected = openvino(irs, "image", [jpeg_decoded(JPEG)])
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    runtime = session.client("sagemaker-runtime")
    runtime.meta.events.register(
        "before-send.sagemaker-runtime.InvokeEndpoint",
        lambda request, **_: setattr(request, "url", f"{serve.url}/invocations"),
    )
    response = runtime.invoke_endpoint(EndpointName="e", Body=JPEG, ContentType="application/x-image")
    np.testing.assert_array_equal(np.array(json.loads(response["Body"].read())["predictions"], np.float32), expected)
    (path,) = _files(tmp_path, JPEG)
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps([{"client": "botocore", "serializer": "data", "content_type": "image/jpeg", "data": path}])
    )
    (result,) = json.loads(run_sagemaker("predictor_calls.py", str(serve.http_port), str(plan)).stdout.splitlines()[-1])
    assert result["ok"], result
    np.testing.assert_array_equal(np.array(result["value"]["predictions"], np.float32), expected)


TRUNCATED = PNGS[0][: len(PNGS[0]) // 2]
BAD_FILES = [
    (b"not an image at all", "expected a JPEG or PNG file, got 19 bytes starting with b'not an image'"),
    (TRUNCATED, "the PNG data cannot be decoded"),
    (JPEG[:200], "the JPEG data cannot be decoded"),
    (encode(PICTURES[0], "GIF"), "expected a JPEG or PNG file"),
    (png_bomb(), "header declares more than 33554432 pixels"),
]
BAD_IDS = ["not-image", "png-cut", "jpeg-cut", "gif", "bomb"]


@pytest.mark.robustness(
    "encoded images: not an image, cut short, GIF, a PNG declaring 100000x100000 pixels, not base64, mixed sizes",
    "400 / INVALID_ARGUMENT naming the item and what was expected; the server keeps serving",
)
@pytest.mark.parametrize(("data", "words"), BAD_FILES, ids=BAD_IDS)
def test_bad_files_are_refused_on_every_path(tmp_path, server, serve, irs, data, words):
    rest = _rest(server, "image", {"instances": [_b64(PNGS[0]), _b64(data)]})
    assert_error(rest, 400, "input 'image' image 1: ", words)
    sagemaker = requests.post(f"{serve.url}/invocations", data=data, headers={"Content-Type": "image/png"}, timeout=60)
    assert_error(sagemaker, 400, "input 'image' image 0: ", words)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "image"
    request.inputs["image"].CopyFrom(to_proto(np.array([data], dtype=object)))
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(server.address))
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=60)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in caught.value.details()
    still = _rest(server, "image", {"instances": [_b64(PNGS[0])]})
    assert still.status_code == 200
    np.testing.assert_array_equal(
        np.array(still.json()["predictions"], np.float32), openvino(irs, "image", PICTURES[:1])
    )


def test_official_client_gets_invalid_argument_for_a_bad_file(tmp_path, server):
    answer = _tf_client(tmp_path, server, "image", "image", PNGS[0], TRUNCATED)
    assert answer["error"] == "INVALID_ARGUMENT" and "image 1: the PNG data cannot be decoded" in answer["details"]


def test_not_base64_and_mixed_sizes_are_400(server):
    assert_error(_rest(server, "image", {"instances": [{"b64": "a*b"}]}), 400, "is not valid base64")
    mixed = _rest(server, "anysize", {"instances": [_b64(PNGS[0]), _b64(BIG_PNG)]})
    assert_error(mixed, 400, "same height and width", "image 0 is 16x16", "image 1 is 24x40")
    assert_error(_rest(server, "strings", {"instances": [1.5]}), 400, "expects JSON strings", "the number 1.5")


def test_string_model_over_grpc_with_the_official_client(tmp_path, server):
    texts = [b"caf\xc3\xa9", b"\x00\xffbinary", b""]
    answer = _tf_client(tmp_path, server, "strings", "text", *texts)
    outputs = answer["outputs"]
    for name in ("echo", "echo_bytes"):
        assert outputs[name]["dtype"] == "string" and outputs[name]["shape"] == [3]
        assert [base64.b64decode(value) for value in outputs[name]["values"]] == texts


def test_string_model_over_rest_strings_b64_and_bytes_outputs(server):
    """JSON strings and {"b64": ...} in; `echo_bytes` comes back as {"b64": ...} and `echo`
    as JSON strings (TF Serving's _bytes rule), in both formats."""
    rows = _rest(server, "strings", {"instances": ["hello", _b64(b"\x00\x01")]})
    assert rows.status_code == 200, rows.text
    assert rows.json() == {
        "predictions": [
            {"echo": "hello", "echo_bytes": {"b64": "aGVsbG8="}},
            {"echo": "\x00\x01", "echo_bytes": {"b64": "AAE="}},
        ]
    }
    columns = _rest(server, "strings", {"inputs": {"text": ["a"]}})
    assert columns.status_code == 200, columns.text
    assert columns.json() == {"outputs": {"echo": ["a"], "echo_bytes": [{"b64": "YQ=="}]}}


def test_string_model_metadata_names_dt_string(server):
    metadata = requests.get(f"{server.url}/v1/models/strings/metadata", timeout=30).json()
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["text"]["dtype"] == "DT_STRING"
    assert signature["outputs"]["echo_bytes"]["dtype"] == "DT_STRING"


def test_mean_and_scale_apply_per_channel_and_a_misfit_fails_the_load(tmp_path, irs):
    """A model's mean/scale give (pixel - mean) / scale per channel, as OpenVINO computes on the
    same values; a mean with 2 values for a 3-channel image input fails that version's load,
    with the reason in its status (not a per-request error), while the other model serves."""
    entries = [
        {"name": "scaled", "base_path": str(irs["image"].parent.parent), "mean": [10.0, 20.0, 30.0], "scale": 2.0},
        {"name": "badmean", "base_path": str(irs["image"].parent.parent), "mean": [1.0, 2.0]},
    ]
    config = write_config(tmp_path / "config.json", entries)
    process = RestServer(["config", "--config_path", str(config)], tmp_path / "server.log").wait_ready(120)
    try:
        answer = _rest(process, "scaled", {"instances": [_b64(PNGS[0])]})
        assert answer.status_code == 200, answer.text
        pixels = (PICTURES[0][None].astype(np.float32) - np.float32([10, 20, 30])) / np.float32(2)
        expected = models.direct_infer(irs["image"], {"image": pixels})["scores"]
        np.testing.assert_allclose(np.array(answer.json()["predictions"], np.float32), expected, rtol=1e-6)
        url = f"{process.url}/v1/models/badmean"
        process.wait_for(lambda: _ended(url) is not None, 120, "done loading badmean")
        status = _ended(url)
        assert status["error_code"] != "OK"
        assert (
            "the model's mean has 2 values; input 'image' (shape [-1, 16, 16, 3]) takes images of 3"
            in (status["error_message"])
        )
    finally:
        assert process.stop() == 0


def _ended(url: str) -> dict | None:
    """The status of the model's version once its load has ended, else None."""
    versions = requests.get(url, timeout=10).json().get("model_version_status", [])
    return versions[0]["status"] if versions and versions[0]["state"] == "END" else None
