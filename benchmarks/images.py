"""Images/s when clients send JPEG files instead of float32 tensors, side by side on one
`serve` process (SageMaker's entrypoint: /invocations and gRPC on the same model):

- grpc_jpeg: gRPC Predict with the JPEG in a DT_STRING tensor [1] (decoded by the server)
- grpc_f32: gRPC Predict with the same picture as float32 in tensor_content
- invocations_image: /invocations, Content-Type application/x-image, the JPEG as the body
- invocations_json: /invocations, Content-Type application/json, {"instances": float32 pixels}

for two models on 224x224 RGB pictures: `light` (NHWC, a few convolutions, ~0.1 GFLOPs: the
transport and decoding show) and benchmarks.models' `cnn` (NCHW, ResNet-18-like, 3.6 GFLOPs:
inference dominates). Every answer is checked equal across the four forms first (the server
decodes the JPEG to the very pixels the float32 forms carry). Beside the rates: the server's
decode time per image (images.decode_images, in this process) and OpenVINO's inference time
at batch 1.

usage: python -m benchmarks.images [--seconds 10] [--quick] [--report benchmarks/IMAGES.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import openvino as ov
import orjson
from openvino import opset13 as ops

from benchmarks import models
from benchmarks.environment import describe, load_average
from benchmarks.payloads import PREDICT_METHOD, Request
from benchmarks.processes import call_once
from ie_serving.compile_policy import CPU_DEFAULTS
from ie_serving.dtypes import STRING
from ie_serving.images import decode_images
from ie_serving.protos.tensorflow_serving.apis import predict_pb2
from ie_serving.tensor_proto import to_numpy, to_proto
from ie_serving.tensor_spec import TensorSpec
from tests.image_files import encode, jpeg_decoded, picture
from tests.sagemaker_helpers import ServeProcess

FORMS = ("grpc_jpeg", "grpc_f32", "invocations_image", "invocations_json")
CONCURRENCIES = [4, 16]


def light() -> ov.Model:
    """NHWC f32 [1, 224, 224, 3] -> 7x7/4 conv to 16, 3x3/2 conv to 32, global mean, 10-way softmax."""
    rng = np.random.default_rng(4)
    x = ops.parameter([1, 224, 224, 3], np.float32, name=models.INPUT)
    y = ops.transpose(x, ops.constant(np.array([0, 3, 1, 2], np.int64)))
    for cin, cout, kernel, stride in ((3, 16, 7, 4), (16, 32, 3, 2)):
        weights = (rng.standard_normal((cout, cin, kernel, kernel)) / (cin * kernel * kernel * 255)).astype(np.float32)
        pad = kernel // 2
        y = ops.relu(ops.convolution(y, ops.constant(weights), [stride] * 2, [pad] * 2, [pad] * 2, [1, 1]))
    pooled = ops.reduce_mean(y, ops.constant(np.array([2, 3], np.int64)), keep_dims=False)
    head = ops.matmul(pooled, ops.constant(rng.standard_normal((32, 10)).astype(np.float32)), False, False)
    out = ops.softmax(head, 1)
    out.output(0).get_tensor().set_names({models.OUTPUT})
    return ov.Model([out], [x], "light")


MODELS = {"light": (light, "NHWC"), "cnn": (models.cnn, "NCHW")}


@dataclasses.dataclass(frozen=True)
class Contender:
    form: str
    kind: str  # grpc or http
    path: str
    body: bytes
    headers: dict[str, str]


def contenders(model: str, jpeg: bytes, pixels: np.ndarray) -> list[Contender]:
    """The four requests for one picture: `pixels` is the JPEG as the server decodes it, in
    the model's layout, as float32 [1, ...]."""

    def grpc(tensor: object) -> bytes:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model
        request.inputs[models.INPUT].CopyFrom(tensor)
        return request.SerializeToString()

    files = np.empty(1, dtype=STRING)
    files[0] = jpeg
    json_body = orjson.dumps({"instances": pixels}, option=orjson.OPT_SERIALIZE_NUMPY)
    return [
        Contender("grpc_jpeg", "grpc", PREDICT_METHOD, grpc(to_proto(files)), {}),
        Contender("grpc_f32", "grpc", PREDICT_METHOD, grpc(to_proto(pixels, tensor_content=True)), {}),
        Contender("invocations_image", "http", "/invocations", jpeg, {"Content-Type": "application/x-image"}),
        Contender("invocations_json", "http", "/invocations", json_body, {"Content-Type": "application/json"}),
    ]


def answer_of(contender: Contender, body: bytes) -> np.ndarray:
    if contender.kind == "grpc":
        return to_numpy(models.OUTPUT, predict_pb2.PredictResponse.FromString(body).outputs[models.OUTPUT])
    return np.asarray(orjson.loads(body)["predictions"], np.float32)


def median_ms(action: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def run_load(contender: Contender, target: str, seconds: float, work: pathlib.Path) -> list[dict]:
    body_file = work / f"{contender.form}.body"
    body_file.write_bytes(contender.body)
    spec = {
        "kind": contender.kind,
        "target": target,
        "path": contender.path,
        "body_file": str(body_file),
        "headers": contender.headers,
        "concurrencies": CONCURRENCIES,
        "warmup": 2.0,
        "seconds": seconds,
    }
    spec_file = work / f"{contender.form}.json"
    spec_file.write_text(json.dumps(spec))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadgen", str(spec_file)], capture_output=True, text=True, check=True
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def measure_model(name: str, seconds: float, rounds_count: int, root: pathlib.Path) -> dict:
    build, layout = MODELS[name]
    model_dir = root / name / "model"
    xml = model_dir / name / "1" / "model.xml"
    xml.parent.mkdir(parents=True)
    ov.save_model(build(), str(xml), compress_to_fp16=False)
    jpeg = encode(picture(224, 224), "JPEG", quality=90)
    decoded = jpeg_decoded(jpeg).astype(np.float32)[None]
    pixels = decoded if layout == "NHWC" else np.ascontiguousarray(decoded.transpose(0, 3, 1, 2))
    spec = TensorSpec(models.INPUT, np.dtype(np.float32), tuple(pixels.shape))
    files = np.empty(1, dtype=STRING)
    files[0] = jpeg
    decode_ms = median_ms(lambda: decode_images(models.INPUT, files, spec), 200)
    compiled = ov.Core().compile_model(str(xml), "CPU", dict(CPU_DEFAULTS))
    request = compiled.create_infer_request()
    infer_ms = median_ms(lambda: request.infer({0: pixels}), 30)
    server = ServeProcess(model_dir, root / name / "serve.log").wait_ready(180)
    try:
        requests_ = contenders(name, jpeg, pixels)
        targets = {"grpc": server.grpc_address, "http": server.url}
        answers = [
            answer_of(c, call_once(c.kind, targets[c.kind], Request(c.path, c.body, c.headers))) for c in requests_
        ]
        for contender, answer in zip(requests_, answers, strict=True):
            np.testing.assert_allclose(answer, answers[1], rtol=1e-5, atol=1e-6, err_msg=contender.form)
        rounds: dict[str, list[list[dict]]] = {form: [] for form in FORMS}
        loads = []
        for index in range(rounds_count):
            loads.append(load_average())
            for contender in requests_[index % len(requests_) :] + requests_[: index % len(requests_)]:
                rounds[contender.form].append(run_load(contender, targets[contender.kind], seconds, root / name))
    finally:
        server.stop()
    return {
        "model": name,
        "layout": layout,
        "jpeg_bytes": len(jpeg),
        "bodies": {c.form: len(c.body) for c in requests_},
        "decode_ms": decode_ms,
        "infer_ms": infer_ms,
        "points": {form: _medians(got) for form, got in rounds.items()},
        "loads": loads,
    }


def _medians(rounds: list[list[dict]]) -> list[dict]:
    """Per concurrency: the median throughput and p50 over the rounds, and the errors summed."""
    return [
        {
            "throughput": statistics.median(r[index]["throughput"] for r in rounds),
            "p50": statistics.median(r[index]["p50"] for r in rounds),
            "errors": sum(r[index]["errors"] for r in rounds),
        }
        for index in range(len(CONCURRENCIES))
    ]


def report(results: list[dict], environment: dict, seconds: float, rounds: int) -> str:
    lines = [
        "# Image inputs: JPEG files against float32 tensors",
        "",
        f"{datetime.date.today()}, `make bench_images` ({seconds:.0f} s per point after a 2 s warm-up, closed loop, "
        f"one `serve` process per model on loopback; the median of {rounds} rounds, the four forms interleaved in "
        "each round, so a change of load on the shared machine falls on all of them); "
        f"{environment['cpu']}, {environment['cores']} cores, "
        f"load average before {environment['load_before']} (other work shared the machine: read the ratios, "
        "measured side by side in one run, more than the absolute figures). One 224x224 photo-like picture, "
        "JPEG quality 90; the float32 forms carry the very pixels the server decodes the JPEG to, and every "
        "form's answer was checked equal before the load.",
        "",
    ]
    for result in results:
        points = result["points"]
        lines += [
            f"## {result['model']} ({result['layout']} [1, 224, 224]), decode {result['decode_ms']:.2f} ms per image, "
            f"inference {result['infer_ms']:.2f} ms (batch 1, OpenVINO direct)",
            "",
            "| form | body bytes | "
            + " | ".join(f"images/s at {c}" for c in CONCURRENCIES)
            + " | "
            + " | ".join(f"p50 ms at {c}" for c in CONCURRENCIES)
            + " |",
            "|---|---|" + "---|" * (2 * len(CONCURRENCIES)),
        ]
        for form in FORMS:
            figures = points[form]
            rates = " | ".join(
                f"{p['throughput']:.1f}" + (f" ({p['errors']} errors)" if p["errors"] else "") for p in figures
            )
            p50s = " | ".join(f"{p['p50']:.1f}" for p in figures)
            lines.append(f"| {form} | {result['bodies'][form]} | {rates} | {p50s} |")
        ratios = []
        for index, concurrency in enumerate(CONCURRENCIES):
            rate = {form: points[form][index]["throughput"] for form in FORMS}
            jpeg_json = rate["grpc_jpeg"] / rate["invocations_json"]
            image_json = rate["invocations_image"] / rate["invocations_json"]
            ratios.append(
                f"at {concurrency} clients: grpc_jpeg / invocations_json {jpeg_json:.2f}x, "
                f"invocations_image / invocations_json {image_json:.2f}x, "
                f"grpc_f32 / grpc_jpeg {rate['grpc_f32'] / rate['grpc_jpeg']:.2f}x"
            )
        lines += [
            "",
            "Ratios: " + "; ".join(ratios) + f". Load average at the start of each round: {result['loads']}.",
            "",
        ]
    lines.append(f"Load average after: {load_average()}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per point")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every form, interleaved (medians reported)")
    parser.add_argument("--quick", action="store_true", help="3 s per point, one round, the light model only")
    parser.add_argument("--report", type=pathlib.Path, default=None, help="write the Markdown report here")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    environment = describe()
    with tempfile.TemporaryDirectory() as tmp:
        names = ["light"] if args.quick else list(MODELS)
        rounds = 1 if args.quick else args.rounds
        results = [measure_model(name, seconds, rounds, pathlib.Path(tmp)) for name in names]
    text = report(results, environment, seconds, 1 if args.quick else args.rounds)
    print(text)
    if args.report:
        args.report.write_text(text)


if __name__ == "__main__":
    main()
