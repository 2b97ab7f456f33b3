"""The peer: KServe's Python model server (v1 REST protocol) with a model class that runs
OpenVINO, as a KServe user would write it. Runs in its own venv (.venv-bench-kserve).

usage: python kserve_model.py MODEL_XML --model_name NAME --http_port PORT --enable_grpc false

Inference runs on an AsyncInferQueue sized from OpenVINO's optimal number of infer requests,
awaited from KServe's event loop (a blocking call in `predict` would stall every request)."""

from __future__ import annotations

import asyncio
import sys

import kserve
import numpy as np
import openvino as ov

PROPERTIES = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32"}  # as the server's


class OpenVINOModel(kserve.Model):
    """`{"instances": [...]}` -> OpenVINO -> `{"predictions": [...]}`."""

    def __init__(self, name: str, model_xml: str):
        super().__init__(name)
        self.model_xml = model_xml
        self.queue: ov.AsyncInferQueue | None = None
        self.slots: asyncio.Semaphore | None = None

    def load(self) -> bool:
        compiled = ov.Core().compile_model(self.model_xml, "CPU", PROPERTIES)
        jobs = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.queue = ov.AsyncInferQueue(compiled, jobs)
        self.queue.set_callback(self._done)
        self.slots = asyncio.Semaphore(jobs)
        self.ready = True
        return self.ready

    @staticmethod
    def _done(request: ov.InferRequest, userdata: tuple) -> None:
        loop, future = userdata
        result = request.get_output_tensor(0).data.copy()
        loop.call_soon_threadsafe(future.set_result, result)

    async def predict(self, payload: dict, headers: dict | None = None) -> dict:
        instances = np.asarray(payload["instances"], dtype=np.float32)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        async with self.slots:
            self.queue.start_async({0: instances}, (loop, future))
            result = await future
        return {"predictions": result.tolist()}


if __name__ == "__main__":
    model_xml = sys.argv.pop(1)
    args, _ = kserve.model_server.parser.parse_known_args()
    model = OpenVINOModel(args.model_name, model_xml)
    model.load()
    kserve.ModelServer().start([model])
