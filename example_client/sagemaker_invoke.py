"""Predict through SageMaker's /invocations: on a local `serve` container (--url), or on a
deployed endpoint through boto3's sagemaker-runtime invoke_endpoint (--endpoint_name).

The body is TF Serving JSON {"instances": [...]} (--content_type application/json) or the
array as a .npy file (application/x-npy); the model and version travel in SageMaker's custom
attributes (tfs-model-name, tfs-model-version). The input comes from --input FILE.npy, or is
random float32 data of --shape, which must be a shape the model takes. Against local_test's
model (x float32 [-1, 4] -> y = 2x + 1) served as SageMaker would on port 8080:

    local_test/serve_local.sh --no-docker     # in another shell
    python example_client/sagemaker_invoke.py --url http://localhost:8080 --input local_test/payloads/payload.npy
    python example_client/sagemaker_invoke.py --url http://localhost:8080 --shape 3,4 --content_type application/x-npy
    python example_client/sagemaker_invoke.py --endpoint_name my-endpoint --region eu-west-1 --input batch.npy
"""

from __future__ import annotations

import argparse
import io
import json

import numpy as np
import requests
from common import Timer, print_outputs


def build_parser() -> argparse.ArgumentParser:
    """Every flag of this script, each with its help text."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", default="http://localhost:8080", help="local serve container (default: %(default)s)")
    target.add_argument("--endpoint_name", help="SageMaker endpoint to call with boto3 instead of --url")
    parser.add_argument("--region", help="AWS region of the endpoint (default: boto3's configuration)")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--input", metavar="FILE.npy", help="numpy file with the batch to send")
    data.add_argument("--shape", help="random float32 input of this shape, e.g. 3,4 (one the model takes)")
    parser.add_argument(
        "--content_type",
        choices=("application/json", "application/x-npy"),
        default="application/json",
        help="request body format (default: application/json)",
    )
    parser.add_argument("--model_name", help="tfs-model-name custom attribute (default: the endpoint's default model)")
    parser.add_argument("--model_version", type=int, help="tfs-model-version custom attribute (default: the latest)")
    parser.add_argument("--top_k", type=int, default=5, help="classes to print per item for [batch, classes] outputs")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer (default 60)")
    return parser


def request_body(array: np.ndarray, content_type: str) -> bytes:
    if content_type == "application/x-npy":
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    return json.dumps({"instances": array.tolist()}).encode()


def custom_attributes(args: argparse.Namespace) -> str:
    pairs = [("tfs-model-name", args.model_name), ("tfs-model-version", args.model_version)]
    return ",".join(f"{key}={value}" for key, value in pairs if value is not None)


def invoke(args: argparse.Namespace, body: bytes) -> bytes:
    """POST the body to /invocations (local) or invoke_endpoint (SageMaker); the answer's bytes."""
    attributes = custom_attributes(args)
    if args.endpoint_name:
        import boto3

        client = boto3.client("sagemaker-runtime", region_name=args.region)
        extra = {"CustomAttributes": attributes} if attributes else {}
        response = client.invoke_endpoint(
            EndpointName=args.endpoint_name,
            ContentType=args.content_type,
            Accept="application/json",
            Body=body,
            **extra,
        )
        return response["Body"].read()
    headers = {"Content-Type": args.content_type, "Accept": "application/json"}
    if attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
    try:
        response = requests.post(
            args.url.rstrip("/") + "/invocations", data=body, headers=headers, timeout=args.timeout
        )
    except requests.RequestException as exc:
        raise SystemExit(f"error: {exc}") from None
    if response.status_code != 200:
        raise SystemExit(f"error: HTTP {response.status_code} from {response.url}: {response.text}")
    return response.content


def main() -> None:
    args = build_parser().parse_args()
    if args.input:
        array = np.load(args.input)
    else:
        array = np.random.default_rng(0).random([int(d) for d in args.shape.split(",")], dtype=np.float32)
    print(f"input: shape {list(array.shape)} dtype {array.dtype.name} as {args.content_type}")
    with Timer() as timer:
        answer = json.loads(invoke(args, request_body(array, args.content_type)))
    predictions = answer["predictions"]
    if predictions and isinstance(predictions[0], dict):  # several outputs: one object per item
        outputs = {name: np.array([item[name] for item in predictions]) for name in predictions[0]}
    else:
        outputs = {"predictions": np.array(predictions)}
    print_outputs(outputs, args.top_k)
    print(f"round trip: {timer.ms:.2f} ms")


if __name__ == "__main__":
    main()
