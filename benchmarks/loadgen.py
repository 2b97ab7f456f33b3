"""The closed-loop load generator, run in its own process: N workers each send a request,
wait for its answer and send the next, for a warm-up and then a measured window.

    python -m benchmarks.loadgen SPEC.json   -> one JSON object per concurrency on stdout

gRPC goes through grpc.aio with raw bytes (no client-side protobuf work), HTTP through
aiohttp with one keep-alive connection per worker, and the in-process limits in this very
process (no network): an OpenVINO AsyncInferQueue with N jobs, and N threads each calling
infer() on its own infer request."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pathlib
import sys
import threading
import time
from collections.abc import Awaitable, Callable

import numpy as np

# Destroying a CompiledModel after AsyncInferQueue callbacks can deadlock (its stream threads
# wait for the GIL its destructor holds): compiled models live until os._exit ends the process.
_KEEP_ALIVE: list[object] = []

GRPC_OPTIONS = [("grpc.max_receive_message_length", 256 << 20), ("grpc.max_send_message_length", 256 << 20)]


@dataclasses.dataclass
class Spec:
    """What to load and how."""

    kind: str  # grpc, http, inproc or inproc_threads
    target: str = ""  # host:port for gRPC, base URL for HTTP
    path: str = ""  # gRPC method or HTTP path
    body_file: str = ""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    model_xml: str = ""  # inproc
    batch: int = 1  # inproc: batch size of the sample input
    properties: dict[str, str] = dataclasses.field(default_factory=dict)  # inproc compile properties
    concurrencies: list[int] = dataclasses.field(default_factory=lambda: [1, 4, 16, 64])
    warmup: float = 2.0
    seconds: float = 10.0


@dataclasses.dataclass
class Point:
    """One concurrency's figures; latencies in milliseconds."""

    concurrency: int
    requests: int
    errors: int
    seconds: float
    throughput: float
    p50: float
    p90: float
    p99: float
    first_error: str = ""


def summarize(concurrency: int, latencies: list[float], errors: list[str], seconds: float) -> Point:
    ms = np.asarray(latencies) * 1000 if latencies else np.asarray([np.nan])
    p50, p90, p99 = (float(v) for v in np.percentile(ms, [50, 90, 99]))
    throughput = len(latencies) / seconds if seconds > 0 else 0.0
    return Point(
        concurrency, len(latencies), len(errors), seconds, throughput, p50, p90, p99, errors[0] if errors else ""
    )


def describe(exc: Exception) -> str:
    """One line naming a failed request's error (a gRPC status code and its details)."""
    code, details = getattr(exc, "code", None), getattr(exc, "details", None)
    text = f"{code().name}: {details()}" if callable(code) and callable(details) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:200]


async def closed_loop(call: Callable[[], Awaitable[None]], concurrency: int, warmup: float, seconds: float) -> Point:
    """N workers calling `call` back to back; latencies of calls started after the warm-up."""
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def worker() -> None:
        while (began := time.perf_counter()) < stop_at:
            try:
                await call()
            except Exception as exc:  # counted and reported, the load goes on
                if began >= measure_from:
                    errors.append(describe(exc))
                continue
            if began >= measure_from:
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarize(concurrency, latencies, errors, time.perf_counter() - measure_from)


async def _grpc_points(spec: Spec, body: bytes) -> list[Point]:
    import grpc

    async with grpc.aio.insecure_channel(spec.target, options=GRPC_OPTIONS) as channel:
        method = channel.unary_unary(spec.path)

        async def call() -> None:
            await method(body, timeout=120)

        return [await closed_loop(call, c, spec.warmup, spec.seconds) for c in spec.concurrencies]


async def _http_points(spec: Spec, body: bytes) -> list[Point]:
    import aiohttp

    points = []
    for concurrency in spec.concurrencies:
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(spec.target, connector=connector, timeout=timeout) as session:

            async def call(session: aiohttp.ClientSession = session) -> None:
                async with session.post(spec.path, data=body, headers=spec.headers) as response:
                    answer = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"HTTP {response.status}: {answer[:200]!r}")

            points.append(await closed_loop(call, concurrency, spec.warmup, spec.seconds))
    return points


def _inproc_point(queue_of: Callable[[int], object], sample: np.ndarray, spec: Spec, concurrency: int) -> Point:
    """AsyncInferQueue with `concurrency` jobs: start_async blocks while every job is busy."""
    queue = queue_of(concurrency)
    latencies: list[float] = []
    measure_from = time.perf_counter() + spec.warmup
    lock = threading.Lock()

    def done(_request: object, began: float) -> None:
        if began >= measure_from:
            with lock:
                latencies.append(time.perf_counter() - began)

    queue.set_callback(done)
    stop_at = measure_from + spec.seconds
    while (began := time.perf_counter()) < stop_at:
        queue.start_async({0: sample}, began, share_inputs=True)
    queue.wait_all()
    return summarize(concurrency, latencies, [], time.perf_counter() - measure_from)


def _threads_point(compiled: object, sample: np.ndarray, spec: Spec, concurrency: int) -> Point:
    """`concurrency` threads, each calling infer() on its own infer request back to back
    (OpenVINO releases the GIL while it computes): the server's own pattern, without it."""
    latencies: list[float] = []
    measure_from = time.perf_counter() + spec.warmup
    stop_at = measure_from + spec.seconds

    def worker(request: object) -> None:
        while (began := time.perf_counter()) < stop_at:
            request.infer({0: sample}, share_inputs=True)
            if began >= measure_from:
                latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=worker, args=(compiled.create_infer_request(),)) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summarize(concurrency, latencies, [], time.perf_counter() - measure_from)


def inproc_points(spec: Spec) -> list[Point]:
    """kind inproc: AsyncInferQueue; kind inproc_threads: sync infer requests on threads."""
    import openvino as ov

    compiled = ov.Core().compile_model(spec.model_xml, "CPU", spec.properties)
    _KEEP_ALIVE.append(compiled)  # destroyed only by os._exit (see main)
    shape = [spec.batch if d.is_dynamic else d.get_length() for d in compiled.inputs[0].get_partial_shape()]
    sample = np.random.default_rng(0).random(shape, dtype=np.float32)
    if spec.kind == "inproc_threads":
        return [_threads_point(compiled, sample, spec, c) for c in spec.concurrencies]
    return [_inproc_point(lambda jobs: ov.AsyncInferQueue(compiled, jobs), sample, spec, c) for c in spec.concurrencies]


def run(spec: Spec) -> list[Point]:
    if spec.kind.startswith("inproc"):
        return inproc_points(spec)
    body = pathlib.Path(spec.body_file).read_bytes()
    runner = _grpc_points if spec.kind == "grpc" else _http_points
    return asyncio.run(runner(spec, body))


def main() -> None:
    spec = Spec(**json.loads(pathlib.Path(sys.argv[1]).read_text()))
    for point in run(spec):
        print(json.dumps(dataclasses.asdict(point)), flush=True)
    os._exit(0)  # no interpreter teardown, see _KEEP_ALIVE


if __name__ == "__main__":
    main()
