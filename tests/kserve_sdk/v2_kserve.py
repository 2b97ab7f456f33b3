"""KServe's own Python clients (kserve.InferenceRESTClient with protocol v2,
kserve.InferenceGRPCClient) against a server, in the .venv-bench-kserve environment
(tests/framework_envs.py run_kserve).

usage: v2_kserve.py HTTP_URL GRPC_ADDRESS MODEL INPUTS.npz RESULTS.json

Asks server and model readiness over both, then infers MODEL on every array of INPUTS.npz (an
input per file entry, datatype from its dtype) over REST with JSON data, REST with binary data,
and gRPC; writes {"ready": {...}, "outputs": {transport: {name: npy path}}, "ids": {...}}.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys

import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.utils.numpy_codec import from_np_dtype


def _request(model: str, arrays: dict[str, np.ndarray], binary: bool, request_id: str) -> InferRequest:
    inputs = []
    for name, array in arrays.items():
        tensor = InferInput(name, list(array.shape), from_np_dtype(array.dtype))
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return InferRequest(model_name=model, infer_inputs=inputs, request_id=request_id)


async def main() -> None:
    http_url, grpc_address, model, inputs_path, results_path = sys.argv[1:6]
    arrays = dict(np.load(inputs_path))
    out = pathlib.Path(results_path).parent
    rest = InferenceRESTClient(RESTConfig(protocol="v2", retries=0))
    grpc_client = InferenceGRPCClient(grpc_address, retries=0)
    results: dict = {"ready": {}, "outputs": {}, "ids": {}}
    results["ready"]["rest"] = [await rest.is_server_ready(http_url), await rest.is_model_ready(http_url, model)]
    results["ready"]["grpc"] = [await grpc_client.is_server_ready(), await grpc_client.is_model_ready(model)]
    answers = {
        "rest-json": await rest.infer(http_url, _request(model, arrays, False, "r1"), model_name=model),
        "rest-binary": await rest.infer(http_url, _request(model, arrays, True, "r2"), model_name=model),
        "grpc": await grpc_client.infer(_request(model, arrays, False, "g1")),
    }
    for transport, answer in answers.items():
        results["ids"][transport] = answer.id
        paths = {}
        for output in answer.outputs:
            path = out / f"{transport}_{output.name}.npy"
            np.save(path, output.as_numpy())
            paths[output.name] = str(path)
        results["outputs"][transport] = paths
    await rest.close()
    await grpc_client.close()
    pathlib.Path(results_path).write_text(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
