"""Calling a server with Triton's own Python client (tritonclient[http,grpc] in .venv-triton,
tests/tritonclient/v2_calls.py), for the KServe v2 tests."""

from __future__ import annotations

import json
import pathlib

import numpy as np

from tests.framework_envs import run_triton

TRANSPORTS = ["http-binary", "http-json", "grpc"]


class Triton:
    """Batches of calls made by tritonclient in its own environment."""

    def __init__(self, http_address: str, grpc_address: str, work: pathlib.Path):
        """http_address and grpc_address: host:port of the server's REST and gRPC ports;
        work: where the calls, inputs and answers are written."""
        self.urls = {"http": http_address, "grpc": grpc_address}
        self.work = work
        self.count = 0

    def array(self, array: np.ndarray) -> str:
        self.count += 1
        path = self.work / f"in{self.count}.npy"
        np.save(path, array)
        return str(path)

    def call(self, transport: str, op: str, **fields) -> dict:
        return self.calls([(transport, op, fields)])[0]

    def calls(self, calls: list[tuple[str, str, dict]]) -> list[dict]:
        """Run (transport, op, fields) calls in one client process; transport is one of
        TRANSPORTS (http alone means http-binary)."""
        specs = []
        for transport, op, fields in calls:
            protocol = transport.split("-")[0]
            spec = {"protocol": protocol, "url": self.urls[protocol], "op": op, **fields}
            for tensor in spec.get("inputs", []):
                if "array" in tensor:
                    tensor["npy"] = self.array(tensor.pop("array"))
                tensor.setdefault("binary", transport != "http-json")
            if transport == "http-json" and spec.get("outputs") is None and op == "infer":
                spec["outputs"] = [{"name": name, "binary": False} for name in fields["all_outputs"]]
            specs.append(spec)
        self.count += 1
        calls_path, results_path = self.work / f"calls{self.count}.json", self.work / f"results{self.count}.json"
        calls_path.write_text(json.dumps(specs))
        run_triton("v2_calls.py", str(calls_path), str(results_path))
        results = json.loads(results_path.read_text())
        for result in results:
            result["arrays"] = {name: np.load(path) for name, path in result.get("outputs", {}).items()}
        return results
