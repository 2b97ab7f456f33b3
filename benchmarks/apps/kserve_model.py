"""The peer: KServe's Python model server (v1 and v2 REST protocols) with a model class that
runs OpenVINO, as a KServe user would write it (KServe's docs: a v2 request reaches `predict`
as an InferRequest and its answer is an InferResponse). Runs in its own venv
(.venv-bench-kserve).

usage: python kserve_model.py MODEL_XML --model_name NAME --http_port PORT --enable_grpc false

Inference runs on an AsyncInferQueue sized from OpenVINO's optimal number of infer requests,
awaited from KServe's event loop (a blocking call in `predict` would stall every request)."""

from __future__ import annotations

import asyncio
import sys

import kserve
import numpy as np
import openvino as ov
from kserve.utils.utils import generate_uuid

PROPERTIES = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32"}  # as the server's


class OpenVINOModel(kserve.Model):
    """`{"instances": [...]}` -> OpenVINO -> `{"predictions": [...]}` (v1), or a v2
    InferRequest's first input -> OpenVINO -> an InferResponse with the output (v2)."""

    def __init__(self, name: str, model_xml: str):
        super().__init__(name)
        self.model_xml = model_xml
        self.queue: ov.AsyncInferQueue | None = None
        self.slots: asyncio.Semaphore | None = None
        self.output_name = ""

    def load(self) -> bool:
        compiled = ov.Core().compile_model(self.model_xml, "CPU", PROPERTIES)
        self.output_name = compiled.output(0).get_any_name()
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

    async def predict(
        self, payload: dict | kserve.InferRequest, headers: dict | None = None
    ) -> dict | kserve.InferResponse:
        if isinstance(payload, kserve.InferRequest):
            result = await self._infer(payload.inputs[0].as_numpy())
            output = kserve.InferOutput(self.output_name, list(result.shape), "FP32", result.ravel().tolist())
            return kserve.InferResponse(payload.id or generate_uuid(), self.name, [output])
        result = await self._infer(np.asarray(payload["instances"], dtype=np.float32))
        return {"predictions": result.tolist()}

    async def _infer(self, inputs: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        async with self.slots:
            self.queue.start_async({0: inputs}, (loop, future))
            return await future


if __name__ == "__main__":
    model_xml = sys.argv.pop(1)
    args, _ = kserve.model_server.parser.parse_known_args()
    model = OpenVINOModel(args.model_name, model_xml)
    model.load()
    kserve.ModelServer().start([model])
