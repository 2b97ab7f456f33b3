"""KServe v2 / Open Inference Protocol against a real server with Triton's own Python client
(tritonclient[http,grpc] in .venv-triton, tests/tritonclient/v2_calls.py): health, metadata
and inference over HTTP with binary tensors (the client's default), HTTP JSON
(binary_data=False) and gRPC, every answer equal to OpenVINO's direct result; then the
errors, with the server still serving after them. KServe's own clients
(kserve.InferenceRESTClient, InferenceGRPCClient in .venv-bench-kserve) against the same server.

The contract: kserve/open-inference-protocol specification/protocol/inference_rest.md and
inference_grpc.md, Triton's docs/protocol/extension_binary_data.md, and the status codes of
Triton's http_server.cc (HttpCodeFromError: INVALID_ARG 400, NOT_FOUND 404, UNAVAILABLE 503,
INTERNAL 500) and KServe's errors.py (not ready: 503).
"""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest
import requests

from ie_serving.dtypes import BFLOAT16
from tests import image_files, models
from tests.framework_envs import run_kserve
from tests.rest_helpers import RestServer, assert_error, write_config
from tests.sagemaker_helpers import ServeProcess
from tests.v2_helpers import TRANSPORTS, Triton


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    paths = {
        "multi": models.save(models.multi_io_model(), root / "multi"),
        "dynamic": models.save(models.dynamic_model(), root / "dynamic"),
        "scale_v1": models.save(models.scale_model(2.0), root / "scale", 1),
        "scale_v2": models.save(models.scale_model(3.0), root / "scale", 2),
        "half": models.save(models.dtype_model(np.float16), root / "half"),
        "flags": models.save(models.dtype_model(np.bool_), root / "flags"),
        "small": models.save(models.dtype_model(np.int8), root / "small"),
        "brain": models.save(models.dtype_model(BFLOAT16), root / "brain"),
        "strings": models.save(models.strings_model(), root / "strings"),
        "image": models.save(models.image_model(), root / "image"),
    }
    names = ["multi", "dynamic", "half", "flags", "small", "brain", "strings", "image"]
    entries = [{"name": n, "base_path": str(root / n)} for n in names]
    entries.append({"name": "scale", "base_path": str(root / "scale"), "model_version_policy": {"all": {}}})
    return paths, write_config(root / "config.json", entries)


@pytest.fixture(scope="module")
def server(repo, tmp_path_factory):
    process = RestServer(["config", "--config_path", str(repo[1])], tmp_path_factory.mktemp("log") / "server.log")
    yield process.wait_ready()
    assert process.stop() == 0


@pytest.fixture
def triton(server, tmp_path):
    return Triton(f"127.0.0.1:{server.rest_port}", server.address, tmp_path)


def _tensor(name: str, datatype: str, array: np.ndarray) -> dict:
    return {"name": name, "datatype": datatype, "array": array}


MULTI_OUTPUTS = ["sum", "prod", "c2"]


def test_health_and_server_metadata(triton):
    """Live, ready, model ready (by version too) and server metadata over HTTP and gRPC."""
    for transport in ("http", "grpc"):
        live, ready, model, version, missing, metadata = triton.calls(
            [
                (transport, "live", {}),
                (transport, "ready", {}),
                (transport, "model_ready", {"model": "scale"}),
                (transport, "model_ready", {"model": "scale", "version": "1"}),
                (transport, "model_ready", {"model": "scale", "version": "7"}),
                (transport, "server_metadata", {}),
            ]
        )
        assert live["value"] is True and ready["value"] is True
        assert model["value"] is True and version["value"] is True
        if transport == "http":  # tritonclient reads any non-200 as not ready
            assert missing == {"ok": True, "value": False, "arrays": {}}
        else:  # gRPC: a version the server does not know is NOT_FOUND
            assert missing["ok"] is False and missing["status"] == "StatusCode.NOT_FOUND", missing
        assert metadata["value"]["name"] == "ie_serving"
        assert metadata["value"]["extensions"] == ["binary_tensor_data", "statistics", "model_repository"]


def test_model_metadata_lists_datatypes_dynamic_dims_and_versions(triton):
    http, grpc_answer, scale, scale_v1 = triton.calls(
        [
            ("http", "model_metadata", {"model": "multi"}),
            ("grpc", "model_metadata", {"model": "multi"}),
            ("http", "model_metadata", {"model": "scale"}),
            ("grpc", "model_metadata", {"model": "scale", "version": "1"}),
        ]
    )
    assert http["value"] == {
        "name": "multi",
        "versions": ["1"],
        "platform": "OpenVINO",
        "inputs": [
            {"name": "a", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "b", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "c", "datatype": "INT64", "shape": [2]},
        ],
        "outputs": [
            {"name": "sum", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "prod", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "c2", "datatype": "INT64", "shape": [2]},
        ],
    }
    # gRPC's JSON form writes int64 as strings
    grpc_inputs = [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in grpc_answer["value"]["inputs"]]
    assert grpc_inputs == [(t["name"], t["datatype"], t["shape"]) for t in http["value"]["inputs"]]
    assert scale["value"]["versions"] == ["1", "2"] and scale_v1["value"]["versions"] == ["1", "2"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_multi_input_mixed_dtypes_match_openvino(triton, repo, transport):
    """Two FP32 inputs and an INT64 one; every output equals OpenVINO's own; the id is echoed."""
    rng = np.random.default_rng(3)
    feed = {
        "a": rng.standard_normal((4, 3)).astype(np.float32),
        "b": rng.standard_normal((4, 3)).astype(np.float32),
        "c": np.array([7, -9], np.int64),
    }
    inputs = [_tensor("a", "FP32", feed["a"]), _tensor("b", "FP32", feed["b"]), _tensor("c", "INT64", feed["c"])]
    result = triton.call(transport, "infer", model="multi", inputs=inputs, id="req-42", all_outputs=MULTI_OUTPUTS)
    assert result["ok"], result
    assert result["value"]["id"] == "req-42" and result["value"]["model_name"] == "multi"
    expected = models.direct_infer(repo[0]["multi"] / "model.xml", feed)
    assert sorted(result["arrays"]) == sorted(MULTI_OUTPUTS)
    for name in MULTI_OUTPUTS:
        assert result["arrays"][name].dtype == expected[name].dtype
        np.testing.assert_array_equal(result["arrays"][name], expected[name])


def test_output_selection_mixed_binary_and_explicit_versions(triton):
    a, b, c = np.ones((1, 3), np.float32), np.full((1, 3), 2, np.float32), np.array([1, 2], np.int64)
    inputs = [_tensor("a", "FP32", a), _tensor("b", "FP32", b), _tensor("c", "INT64", c)]
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    selected, mixed, grpc_selected, v1, v2, latest = triton.calls(
        [
            ("http", "infer", {"model": "multi", "inputs": inputs, "outputs": [{"name": "c2"}]}),
            (
                "http",
                "infer",
                {"model": "multi", "inputs": inputs, "outputs": [{"name": "prod", "binary": False}, {"name": "sum"}]},
            ),
            ("grpc", "infer", {"model": "multi", "inputs": inputs, "outputs": [{"name": "sum"}]}),
            ("http", "infer", {"model": "scale", "version": "1", "inputs": [_tensor("x", "FP32", x)]}),
            ("grpc", "infer", {"model": "scale", "version": "2", "inputs": [_tensor("x", "FP32", x)]}),
            ("http", "infer", {"model": "scale", "inputs": [_tensor("x", "FP32", x)]}),
        ]
    )
    assert [o["name"] for o in selected["value"]["outputs"]] == ["c2"]
    np.testing.assert_array_equal(selected["arrays"]["c2"], c * 2)
    prod, summed = mixed["value"]["outputs"]
    assert prod["name"] == "prod" and prod["data"] == [2.0, 2.0, 2.0] and "parameters" not in prod
    assert summed["parameters"] == {"binary_data_size": 12}
    np.testing.assert_array_equal(mixed["arrays"]["sum"], a + b)
    assert list(grpc_selected["arrays"]) == ["sum"]
    np.testing.assert_array_equal(v1["arrays"]["y"], x * 2)
    np.testing.assert_array_equal(v2["arrays"]["y"], x * 3)
    assert (v1["value"]["model_version"], v2["value"]["model_version"]) == ("1", "2")
    assert latest["value"]["model_version"] == "2"


def test_gzip_request_bodies(triton):
    """tritonclient's request_compression_algorithm="gzip": the body is decompressed (within the
    body limit) before Inference-Header-Content-Length splits it."""
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    result = triton.call("http", "infer", model="scale", inputs=[_tensor("x", "FP32", x)], compression="gzip")
    assert result["ok"], result
    np.testing.assert_array_equal(result["arrays"]["y"], x * 3)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dynamic_batch_and_dimensions(triton, repo, transport):
    """The same model answers batches of 1 and 5 rows of any width, as OpenVINO does."""
    calls = []
    feeds = []
    for shape in ((1, 2), (5, 7)):
        x = np.random.default_rng(shape[0]).standard_normal(shape).astype(np.float32)
        feeds.append(x)
        inputs = [_tensor("x", "FP32", x)]
        calls.append((transport, "infer", {"model": "dynamic", "inputs": inputs, "all_outputs": ["row_sum", "square"]}))
    for x, result in zip(feeds, triton.calls(calls), strict=True):
        expected = models.direct_infer(repo[0]["dynamic"] / "model.xml", {"x": x})
        for name in ("row_sum", "square"):
            np.testing.assert_array_equal(result["arrays"][name], expected[name])


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("model", "datatype", "array"),
    [
        ("half", "FP16", np.array([[0.5, -1.25, 3.0], [7.5, 0.0, -2.0]], np.float16)),
        ("flags", "BOOL", np.array([[True, False, True]])),
        ("small", "INT8", np.array([[-128, 0, 126]], np.int8)),
    ],
)
def test_fp16_bool_and_int8_inputs(triton, repo, transport, model, datatype, array):
    result = triton.call(transport, "infer", model=model, inputs=[_tensor("x", datatype, array)], all_outputs=["y"])
    assert result["ok"], result
    expected = models.direct_infer(repo[0][model] / "model.xml", {"x": array})["y"]
    assert result["arrays"]["y"].dtype == expected.dtype
    np.testing.assert_array_equal(result["arrays"]["y"], expected)


@pytest.mark.parametrize("transport", ["http-binary", "grpc"])
def test_bf16_inputs_travel_raw(triton, repo, transport):
    """BF16 has no JSON or typed gRPC form: tritonclient sends ml_dtypes.bfloat16 bytes; the
    answer equals OpenVINO's own bf16 result (read back as float32 by the client script)."""
    x = np.array([[0.5, -1.5, 3.0], [256.0, 0.0, -0.125]], np.float32)
    result = triton.call(transport, "infer", model="brain", inputs=[_tensor("x", "BF16", x)])
    assert result["ok"], result
    assert result["value"]["outputs"][0]["datatype"] == "BF16"
    expected = models.direct_infer(repo[0]["brain"] / "model.xml", {"x": x.astype(BFLOAT16)})["y"]
    np.testing.assert_array_equal(result["arrays"]["y"], expected.astype(np.float32))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bytes_reach_a_string_model_and_come_back(triton, transport):
    """BYTES where a model takes them: a string input, echoed as BYTES outputs (length-prefixed
    binary, JSON strings, gRPC raw)."""
    texts = ["hello", "", "ünïcode", "x" * 300]
    text = {"name": "text", "datatype": "BYTES", "strings": texts}
    result = triton.call(transport, "infer", model="strings", inputs=[text], all_outputs=["echo", "echo_bytes"])
    assert result["ok"], result
    expected = [t.encode().hex() for t in texts]
    assert result["strings"] == {"echo": expected, "echo_bytes": expected}
    assert [o["datatype"] for o in result["value"]["outputs"]] == ["BYTES", "BYTES"]


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_bytes_holding_images_feed_an_image_input(triton, repo, transport):
    """BYTES elements that are PNG and JPEG files, sent to a rank-4 FP32 input, are decoded as
    images (docs/image_inputs.md); the scores equal OpenVINO's on the decoded pixels."""
    pictures = [image_files.picture(16, 16, seed) for seed in (1, 2)]
    files = [image_files.encode(pictures[0], "PNG"), image_files.encode(pictures[1], "JPEG", quality=95)]
    image = {"name": "image", "datatype": "BYTES", "hex": [f.hex() for f in files]}
    result = triton.call(transport, "infer", model="image", inputs=[image])
    assert result["ok"], result
    pixels = np.stack([pictures[0], image_files.jpeg_decoded(files[1])]).astype(np.float32)
    expected = models.direct_infer(repo[0]["image"] / "model.xml", {"image": pixels})["scores"]
    np.testing.assert_allclose(result["arrays"]["scores"], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_bytes_are_refused_clearly_by_a_model_that_takes_no_images(triton, transport):
    bytes_input = {"name": "x", "datatype": "BYTES", "strings": ["a", "b", "c", "d"]}
    result = triton.call(transport, "infer", model="scale", inputs=[bytes_input])
    assert result["ok"] is False
    assert result["status"] == ("400" if transport == "http" else "StatusCode.INVALID_ARGUMENT")
    # strings for a numeric input are taken as encoded images, which only rank-4 inputs take
    assert "input 'x' expects FP32 of shape [-1, 4]; encoded images (JPEG, PNG) are accepted only" in result["message"]


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_errors_name_the_problem_and_the_server_keeps_serving(triton, transport):
    x = np.ones((1, 4), np.float32)
    unknown, shape, datatype, ok = triton.calls(
        [
            (transport, "infer", {"model": "nope", "inputs": [_tensor("x", "FP32", x)]}),
            (transport, "infer", {"model": "scale", "inputs": [_tensor("x", "FP32", np.ones((1, 5), np.float32))]}),
            (transport, "infer", {"model": "scale", "inputs": [_tensor("x", "FP64", x.astype(np.float64))]}),
            (transport, "infer", {"model": "scale", "inputs": [_tensor("x", "FP32", x)]}),
        ]
    )
    codes = {"http": ("404", "400"), "grpc": ("StatusCode.NOT_FOUND", "StatusCode.INVALID_ARGUMENT")}[transport]
    assert (unknown["ok"], unknown["status"]) == (False, codes[0]) and "nope" in unknown["message"]
    assert (shape["ok"], shape["status"]) == (False, codes[1])
    assert "input 'x' expects shape [-1, 4] (-1: any size), got [1, 5]" in shape["message"]
    assert (datatype["ok"], datatype["status"]) == (False, codes[1])
    assert "input 'x' expects dtype FP32, got FP64" in datatype["message"]
    np.testing.assert_array_equal(ok["arrays"]["y"], x * 3)


def test_broken_http_bodies_are_400s_and_the_server_keeps_serving(triton, server, tmp_path):
    """The client's own binary body (generate_request_body), truncated or with a header length
    past its end, and malformed JSON, sent as they are with `requests`."""
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    body_path = tmp_path / "body.bin"
    made = triton.call("http", "body", inputs=[_tensor("x", "FP32", x)], body_path=str(body_path))
    body, json_size = body_path.read_bytes(), made["value"]
    url = f"{server.url}/v2/models/scale/infer"

    def post(data: bytes, header_length: int | None) -> requests.Response:
        headers = {"Content-Type": "application/octet-stream"}
        if header_length is not None:
            headers["Inference-Header-Content-Length"] = str(header_length)
        return requests.post(url, data=data, headers=headers, timeout=10)

    assert_error(post(body[:-3], json_size), 400, "input 'x'", "binary_data_size 16 reaches past the body's end")
    assert_error(post(body, len(body) + 10), 400, "Inference-Header-Content-Length", "past the end of the")
    assert_error(post(b'{"inputs": [', None), 400, "not valid JSON")
    assert_error(post(body, json_size - 5), 400, "not valid JSON")
    answer = post(body, json_size)
    assert answer.status_code == 200, answer.text
    length = int(answer.headers["Inference-Header-Content-Length"])
    np.testing.assert_array_equal(np.frombuffer(answer.content[length:], np.float32).reshape(1, 4), x * 3)


def test_raw_binary_request(server, repo):
    """Triton's raw binary request (extension_binary_data.md): Inference-Header-Content-Length 0
    and the single input's bytes as the body; the rows are what the byte count makes, every
    output comes back binary; a multi-input model refuses it."""
    x = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": "0"}
    answer = requests.post(
        f"{server.url}/v2/models/scale/versions/1/infer", data=x.tobytes(), headers=headers, timeout=10
    )
    assert answer.status_code == 200, answer.text
    length = int(answer.headers["Inference-Header-Content-Length"])
    document = json.loads(answer.content[:length])
    assert document["outputs"] == [
        {"name": "y", "datatype": "FP32", "shape": [3, 4], "parameters": {"binary_data_size": 48}}
    ]
    expected = models.direct_infer(repo[0]["scale_v1"] / "model.xml", {"x": x})["y"]
    np.testing.assert_array_equal(np.frombuffer(answer.content[length:], np.float32).reshape(3, 4), expected)
    refused = requests.post(f"{server.url}/v2/models/multi/infer", data=x.tobytes(), headers=headers, timeout=10)
    assert_error(refused, 400, "needs a model with one input; this one has ['a', 'b', 'c']")
    assert_error(
        requests.post(f"{server.url}/v2/models/scale/infer", data=x.tobytes()[:-2], headers=headers, timeout=10),
        400,
        "input 'x' of shape [-1, 4] (FP32) cannot be 46 bytes",
    )


def test_plain_http_routes_and_status_codes(server):
    """What curl sees: the spec's JSON shapes, 404 for an unknown model or a path no route
    serves (naming the v2 routes), 405 for a method a route does not take."""
    assert requests.get(f"{server.url}/v2/health/live", timeout=5).json() == {"live": True}
    assert requests.get(f"{server.url}/v2/health/ready", timeout=5).json() == {"ready": True}
    assert requests.get(f"{server.url}/v2/models/scale/versions/1/ready", timeout=5).json() == {
        "name": "scale",
        "ready": True,
    }
    assert_error(requests.get(f"{server.url}/v2/models/nope/ready", timeout=5), 404, "nope")
    assert_error(requests.get(f"{server.url}/v2/models/nope", timeout=5), 404, "nope")
    assert_error(requests.get(f"{server.url}/v2/models/scale/versions/x", timeout=5), 400, "version number")
    # a route asked with a method it does not take: 405 with Allow, as Triton's http_server.cc
    # answers ("Method Not Allowed"); the body names the routes
    wrong = requests.get(f"{server.url}/v2/models/scale/infer", timeout=5)
    assert_error(wrong, 405, "Method Not Allowed: GET /v2/models/scale/infer", "POST /v2/models/{name}")
    assert wrong.headers["Allow"] == "POST"
    wrong = requests.get(f"{server.url}/v2/repository/index", timeout=5)
    assert_error(wrong, 405, "expected GET /v2,")
    assert wrong.headers["Allow"] == "POST"
    assert_error(requests.post(f"{server.url}/v2/health/live", timeout=5), 405, "POST /v2/health/live")
    assert_error(requests.get(f"{server.url}/v2/models/scale/nothing", timeout=5), 404, "Not found")
    assert_error(requests.put(f"{server.url}/v2/health/live", timeout=5), 405)
    answer = requests.post(
        f"{server.url}/v2/models/scale/infer",
        json={"id": "1", "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [[1, 2, 3, 4]]}]},
        timeout=10,
    )
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {
        "model_name": "scale",
        "model_version": "2",
        "id": "1",
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 4], "data": [3.0, 6.0, 9.0, 12.0]}],
    }


def test_not_ready_until_every_model_has_an_available_version(tmp_path):
    """A configured model with no version yet: /v2/health/ready is 503 naming it (KServe's
    ServerNotReady), live stays 200; once a version appears (the poller finds it) it is 200."""
    models.save(models.scale_model(2.0), tmp_path / "scale")
    (tmp_path / "later").mkdir()
    config = write_config(
        tmp_path / "config.json",
        [
            {"name": "scale", "base_path": str(tmp_path / "scale")},
            {"name": "later", "base_path": str(tmp_path / "later")},
        ],
    )
    process = RestServer(
        ["config", "--config_path", str(config), "--file_system_poll_wait_seconds", "1"], tmp_path / "log"
    )
    try:
        process.wait_ready()
        assert_error(requests.get(f"{process.url}/v2/health/ready", timeout=5), 503, "later")
        assert_error(requests.get(f"{process.url}/v2/models/later/ready", timeout=5), 503, "later")
        assert requests.get(f"{process.url}/v2/health/live", timeout=5).status_code == 200
        models.save(models.scale_model(5.0), tmp_path / "later")
        process.wait_for(lambda: requests.get(f"{process.url}/v2/health/ready", timeout=5).status_code == 200, 30)
    finally:
        assert process.stop() == 0


def test_sagemaker_serve_answers_v2_on_its_port(tmp_path):
    """`serve` builds on the same REST app: /v2 is on port 8080 beside /ping and /invocations."""
    models.save(models.scale_model(2.0), tmp_path / "model" / "scale", 1)
    process = ServeProcess(tmp_path / "model", tmp_path / "serve.log").wait_ready()
    try:
        assert requests.get(f"{process.url}/v2/health/ready", timeout=5).json() == {"ready": True}
        answer = requests.post(
            f"{process.url}/v2/models/scale/infer",
            json={"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
            timeout=10,
        )
        assert answer.json()["outputs"][0]["data"] == [2.0, 4.0, 6.0, 8.0]
    finally:
        assert process.stop() == 0


def test_kserve_clients_rest_json_rest_binary_and_grpc(server, repo, tmp_path):
    """kserve's InferenceRESTClient (protocol v2, JSON and binary data) and InferenceGRPCClient:
    ready, and the multi-input model's outputs equal to OpenVINO's, the request ids echoed."""
    feed = {
        "a": np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
        "b": np.full((2, 3), 0.5, np.float32),
        "c": np.array([3, -4], np.int64),
    }
    np.savez(tmp_path / "inputs.npz", **feed)
    run_kserve(
        "v2_kserve.py",
        f"http://127.0.0.1:{server.rest_port}",
        server.address,
        "multi",
        str(tmp_path / "inputs.npz"),
        str(tmp_path / "results.json"),
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["ready"] == {"rest": [True, True], "grpc": [True, True]}
    assert results["ids"] == {"rest-json": "r1", "rest-binary": "r2", "grpc": "g1"}
    expected = models.direct_infer(repo[0]["multi"] / "model.xml", feed)
    for transport, outputs in results["outputs"].items():
        assert sorted(outputs) == sorted(MULTI_OUTPUTS), transport
        for name, path in outputs.items():
            np.testing.assert_array_equal(np.load(path), expected[name], err_msg=f"{transport} {name}")


def test_grpc_method_paths_and_malformed_messages(server):
    """The method paths are the spec's (/inference.GRPCInferenceService/...), called here with
    raw bytes: an empty ServerLiveRequest answers live = true (field 1, varint 1); bytes that
    are no ModelInferRequest are INVALID_ARGUMENT naming the message, and the server serves on."""
    with grpc.insecure_channel(server.address) as channel:

        def call(method: str, payload: bytes) -> bytes:
            return channel.unary_unary(
                f"/inference.GRPCInferenceService/{method}",
                request_serializer=lambda raw: raw,
                response_deserializer=lambda raw: raw,
            )(payload, timeout=10)

        assert call("ServerLive", b"") == b"\x08\x01"
        with pytest.raises(grpc.RpcError) as caught:
            call("ModelInfer", b"\x0a\xff\xff\xff")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "inference.ModelInferRequest" in caught.value.details()
        assert call("ServerReady", b"") == b"\x08\x01"
