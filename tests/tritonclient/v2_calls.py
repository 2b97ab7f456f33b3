"""Run KServe v2 calls with Triton's own Python client (tritonclient.http / tritonclient.grpc),
in the .venv-triton environment (tests/framework_envs.py run_triton).

usage: v2_calls.py CALLS.json RESULTS.json

CALLS.json is a list of calls: {"protocol": "http"|"grpc", "url": "host:port", "op": one of
live, ready, model_ready, server_metadata, model_metadata, infer, body, and the extensions'
index ("ready": bool, gRPC only), load ("config"), unload ("unload_dependents"), stats; "model", "version",
"id", "inputs": [{"name", "datatype", "npy": path | "strings": [...] | "hex": [...], "binary": bool}],
"outputs": [{"name", "binary": bool}] or absent, "compression": "gzip" (HTTP request body)}.
BF16 arrays travel as float32 .npy files (converted to ml_dtypes.bfloat16, the type
tritonclient takes, and back). `body` writes the HTTP request body the client would send
(generate_request_body) to "body_path" and answers its JSON length.
RESULTS.json gets, per call, {"ok": true, "value": ...} (infer: "outputs" maps each output to
an .npy path written beside RESULTS.json, and "strings" each BYTES output's elements as hex) or
{"ok": false, "status": ..., "message": ...}.
"""

from __future__ import annotations

import json
import pathlib
import sys

import ml_dtypes
import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def _inputs(module, specs: list[dict]) -> list:
    inputs = []
    for spec in specs:
        if "strings" in spec:
            array = np.array([s.encode() for s in spec["strings"]], dtype=np.object_)
        elif "hex" in spec:  # BYTES elements given as hex (files such as images)
            array = np.array([bytes.fromhex(h) for h in spec["hex"]], dtype=np.object_)
        else:
            array = np.load(spec["npy"])
            if spec["datatype"] == "BF16":
                array = array.astype(ml_dtypes.bfloat16)
        tensor = module.InferInput(spec["name"], list(array.shape), spec["datatype"])
        if module is httpclient:
            tensor.set_data_from_numpy(array, binary_data=spec.get("binary", True))
        else:
            tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs


def _outputs(module, specs: list[dict] | None) -> list | None:
    if specs is None:
        return None
    if module is httpclient:
        return [httpclient.InferRequestedOutput(s["name"], binary_data=s.get("binary", True)) for s in specs]
    return [grpcclient.InferRequestedOutput(s["name"]) for s in specs]


def _ready_index(url: str) -> dict:
    """RepositoryIndex with ready=true through tritonclient's own generated stubs (its client
    methods have no argument for the filter)."""
    import grpc
    from google.protobuf import json_format
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    with grpc.insecure_channel(url) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        answer = stub.RepositoryIndex(service_pb2.RepositoryIndexRequest(ready=True), timeout=30)
    return json_format.MessageToDict(answer, preserving_proto_field_name=True)


def run(call: dict, index: int, out_dir: pathlib.Path) -> dict:
    module = httpclient if call["protocol"] == "http" else grpcclient
    client = module.InferenceServerClient(call["url"])
    grpc_json = {"as_json": True} if module is grpcclient else {}
    model, version = call.get("model", ""), call.get("version", "")
    op = call["op"]
    if op == "live":
        return {"value": client.is_server_live()}
    if op == "ready":
        return {"value": client.is_server_ready()}
    if op == "model_ready":
        return {"value": client.is_model_ready(model, version)}
    if op == "server_metadata":
        return {"value": client.get_server_metadata(**grpc_json)}
    if op == "model_metadata":
        return {"value": client.get_model_metadata(model, version, **grpc_json)}
    if op == "index":
        if call.get("ready"):
            return {"value": _ready_index(call["url"])}
        return {"value": client.get_model_repository_index(**grpc_json)}
    if op == "load":
        client.load_model(model, **({"config": call["config"]} if "config" in call else {}))
        return {"value": None}
    if op == "unload":
        client.unload_model(model, unload_dependents=call.get("unload_dependents", False))
        return {"value": None}
    if op == "stats":
        return {"value": client.get_inference_statistics(model, version, **grpc_json)}
    inputs = _inputs(module, call["inputs"])
    outputs = _outputs(module, call.get("outputs"))
    if op == "body":
        body, json_size = httpclient.InferenceServerClient.generate_request_body(
            inputs, outputs, request_id=call.get("id", "")
        )
        pathlib.Path(call["body_path"]).write_bytes(body)
        return {"value": json_size}
    options = {"request_compression_algorithm": call["compression"]} if "compression" in call else {}
    result = client.infer(
        model, inputs, model_version=version, outputs=outputs, request_id=call.get("id", ""), **options
    )
    response = result.get_response(**grpc_json)
    paths, strings = {}, {}
    for output in response["outputs"]:
        array = result.as_numpy(output["name"])
        if array.dtype == np.object_:  # BYTES: each element's bytes as hex (JSON data gives str)
            values = array.reshape(-1)
            strings[output["name"]] = [(v.encode() if isinstance(v, str) else v).hex() for v in values]
            continue
        path = out_dir / f"call{index}_{output['name']}.npy"
        np.save(path, array.astype(np.float32) if array.dtype == ml_dtypes.bfloat16 else array)
        paths[output["name"]] = str(path)
    return {"value": response, "outputs": paths, "strings": strings}


def main() -> None:
    calls = json.loads(pathlib.Path(sys.argv[1]).read_text())
    results_path = pathlib.Path(sys.argv[2])
    results = []
    for index, call in enumerate(calls):
        try:
            results.append({"ok": True, **run(call, index, results_path.parent)})
        except InferenceServerException as exc:
            results.append({"ok": False, "status": str(exc.status()), "message": exc.message()})
    results_path.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
