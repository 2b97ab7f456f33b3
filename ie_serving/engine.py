"""OpenVINO: read an IR version, reshape it as configured, compile it, describe its
inputs and outputs, and run inference from a pool of infer requests.

Knows nothing of protobuf, JSON or HTTP: tensors in and out are numpy arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import pathlib
import queue
import statistics
import threading
import time
from collections.abc import Iterable, Mapping

import numpy as np
import openvino as ov

from ie_serving.config import DEFAULT_MAX_QUEUED, ModelConfig
from ie_serving.dtypes import BFLOAT16, NUMPY_BY_OV
from ie_serving.errors import DeadlineExceeded, InferenceFailed, InvalidInput, ModelLoadError, Overloaded
from ie_serving.model_formats import ModelFiles

log = logging.getLogger(__name__)

MAPPING_FILE = "mapping_config.json"


@dataclasses.dataclass(frozen=True)
class EngineOptions:
    """Server-wide settings for every compiled version."""

    max_queued: int = DEFAULT_MAX_QUEUED  # callers that may wait for a free infer request
    compile_cache_dir: pathlib.Path | None = None  # OpenVINO CACHE_DIR: restarts skip compilation


DEFAULT_OPTIONS = EngineOptions()


# Defaults for the CPU plugin when plugin_config does not set them: a server answers many
# clients at once (THROUGHPUT), and TF Serving users expect float32 answers, not bf16.
CPU_DEFAULTS = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32"}

# A model that infers faster than this under THROUGHPUT is compiled for LATENCY instead (when
# plugin_config leaves PERFORMANCE_HINT unset): handing each request to a stream thread costs
# it more than parallel streams give, since the server's own work per request dominates.
# The benchmarks' tiny model: 95 -> 27 us per inference, gRPC p50 0.65 -> 0.57 ms, and more
# requests/s at every concurrency from 1 to 64; the 1-2 ms demo model keeps THROUGHPUT.
FAST_INFERENCE_SECONDS = 0.0005
_TIMED_INFERENCES = 10


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """A model input or output as clients see it: name, numpy dtype, -1 for dynamic dims."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...] | None  # None: dynamic rank

    def accepts_shape(self, shape: tuple[int, ...]) -> bool:
        if self.shape is None:
            return True
        return len(shape) == len(self.shape) and all(
            want == -1 or want == got for want, got in zip(self.shape, shape, strict=True)
        )


def check_input_names(names: Iterable[str], specs: Mapping[str, TensorSpec], where: str = "") -> None:
    """Every input the model expects and no other; InvalidInput names the unknown or missing
    ones (prefixed by `where` when given)."""
    prefix = f"{where}: " if where else ""
    given = set(names)
    unknown = sorted(given - set(specs))
    if unknown:
        raise InvalidInput(f"{prefix}unknown input(s) {unknown}; expected inputs: {sorted(specs)}")
    missing = sorted(set(specs) - given)
    if missing:
        raise InvalidInput(f"{prefix}missing input(s) {missing}; expected inputs: {sorted(specs)}")


@functools.cache
def core() -> ov.Core:
    """The process-wide OpenVINO Core (thread-safe; created on first use, not at import)."""
    _initialize_bindings()
    return ov.Core()


def _initialize_bindings() -> None:
    """Build the lookup tables OpenVINO's Python bindings make on first use, once, before any
    request thread runs: two threads making them at the same moment deadlocked the process
    (seen in about 1 start in 15 with concurrent first requests; the GIL holder waited on a
    C++ static initialisation held by a thread waiting for the GIL)."""
    for dtype in NUMPY_BY_OV.values():
        if dtype != BFLOAT16:
            ov.Type(dtype).to_dtype()
            ov.Tensor(np.zeros(1, dtype), shared_memory=True)
    ov.Type.bf16.to_dtype()


def _dims(partial: ov.PartialShape) -> tuple[int, ...] | None:
    if partial.rank.is_dynamic:
        return None
    return tuple(d.get_length() if d.is_static else -1 for d in partial)


def _numpy_dtype(port: ov.Output, kind: str) -> np.dtype:
    type_name = port.get_element_type().get_type_name()
    if type_name not in NUMPY_BY_OV:
        raise ModelLoadError(f"{kind} {port.get_any_name()!r} has element type {type_name}, which is not served")
    return NUMPY_BY_OV[type_name]


def _port_name(port: ov.Output) -> str:
    try:
        return port.get_any_name()
    except RuntimeError:
        return port.get_node().get_friendly_name()


def _read_mapping(version_dir: pathlib.Path) -> dict[str, dict[str, str]]:
    path = version_dir / MAPPING_FILE
    if not path.exists():
        return {"inputs": {}, "outputs": {}}
    try:
        mapping = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from None
    if (
        not isinstance(mapping, dict)
        or not set(mapping) <= {"inputs", "outputs"}
        or not all(isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in mapping.values())
    ):
        raise ModelLoadError(f'{path}: expected {{"inputs": {{"model_name": "client_name"}}, "outputs": {{...}}}}')
    return {"inputs": mapping.get("inputs", {}), "outputs": mapping.get("outputs", {})}


def _target_shapes(model: ov.Model, config: ModelConfig, mapping: Mapping[str, str]) -> dict:
    """New partial shapes per input from the config's `shape` and `batch_size`."""
    shape, batch = config.shape, config.batch_size
    if isinstance(shape, tuple) and len(model.inputs) != 1:
        raise ModelLoadError(
            f"shape {shape} given without input names, but the model has {len(model.inputs)} inputs; "
            'use {"input_name": "(dims)"}'
        )
    if isinstance(shape, dict):
        known = {_port_name(p) for p in model.inputs} | set(mapping.values())
        unknown = sorted(set(shape) - known)
        if unknown:
            raise ModelLoadError(f"shape names unknown input(s) {unknown}; the model's inputs are {sorted(known)}")
    targets = {}
    for port in model.inputs:
        name = _port_name(port)
        partial = port.get_partial_shape()
        wanted = shape.get(name, shape.get(mapping.get(name, name))) if isinstance(shape, dict) else shape
        if wanted == "auto":
            partial = ov.PartialShape.dynamic(partial.rank) if partial.rank.is_static else partial
        elif isinstance(wanted, tuple):
            partial = ov.PartialShape([ov.Dimension() if d == -1 else ov.Dimension(d) for d in wanted])
        if batch is not None and partial.rank.is_static and len(partial) > 0:
            dims = list(partial)
            dims[0] = ov.Dimension() if batch == "auto" else ov.Dimension(batch)
            partial = ov.PartialShape(dims)
        if partial != port.get_partial_shape():
            targets[port] = partial
    return targets


def _compile_properties(config: ModelConfig, options: EngineOptions) -> dict:
    properties = dict(config.plugin_config)
    if options.compile_cache_dir is not None:
        properties.setdefault("CACHE_DIR", str(options.compile_cache_dir))
    if config.target_device.upper() == "CPU":
        for key, value in CPU_DEFAULTS.items():
            properties.setdefault(key, value)
    return properties


def compile_for_serving(
    model: ov.Model | str, config: ModelConfig, options: EngineOptions = DEFAULT_OPTIONS
) -> ov.CompiledModel:
    """Compile with the config's properties over the CPU defaults; a model that infers in
    under FAST_INFERENCE_SECONDS is compiled again for LATENCY unless PERFORMANCE_HINT is set."""
    properties = _compile_properties(config, options)
    compiled = core().compile_model(model, config.target_device, properties)
    if config.target_device.upper() != "CPU" or "PERFORMANCE_HINT" in config.plugin_config:
        return compiled
    seconds = _inference_seconds(compiled)
    if seconds is None or seconds >= FAST_INFERENCE_SECONDS:
        return compiled
    log.info(
        "model %s: one inference takes %.0f us with PERFORMANCE_HINT=THROUGHPUT; compiling for LATENCY, "
        "faster for models this small (set PERFORMANCE_HINT in plugin_config to choose)",
        config.name,
        seconds * 1e6,
    )
    return core().compile_model(model, config.target_device, {**properties, "PERFORMANCE_HINT": "LATENCY"})


def _inference_seconds(compiled: ov.CompiledModel) -> float | None:
    """Median time of one inference on zeros (safe as indices and loop counts too), after one
    untimed run; a run at or over FAST_INFERENCE_SECONDS ends the timing. None for dynamic
    input shapes or input types that are not numbers."""
    request = compiled.create_infer_request()
    try:
        for port in compiled.inputs:
            if port.get_partial_shape().is_dynamic or port.get_element_type().get_type_name() not in NUMPY_BY_OV:
                return None
            tensor = ov.Tensor(port.get_element_type(), port.get_shape())
            tensor.data.view(np.uint8).fill(0)
            request.set_tensor(port, tensor)
        request.infer()  # the first run packs weights: the first client would pay it otherwise
        times = []
        for _ in range(_TIMED_INFERENCES):
            started = time.perf_counter()
            request.infer()
            times.append(time.perf_counter() - started)
            if times[-1] >= FAST_INFERENCE_SECONDS:
                break  # a slow model is not timed on: one run says enough
    except RuntimeError:
        return None
    return statistics.median(times)


class RequestPool:
    """A version's infer requests. A caller takes a free one or waits for one, but at most
    `max_waiting` callers wait at a time (more are refused: the server stays responsive
    instead of piling up work) and none waits past its deadline."""

    def __init__(self, requests: Iterable[ov.InferRequest], max_waiting: int):
        self._free: queue.SimpleQueue[ov.InferRequest] = queue.SimpleQueue()
        for request in requests:
            self._free.put(request)
        self._max_waiting = max_waiting
        self._waiting = 0
        self._lock = threading.Lock()

    def take(self, timeout: float | None) -> ov.InferRequest:
        """A free infer request, to be given back with give(); timeout None waits as needed."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            return self._wait(timeout)

    def give(self, request: ov.InferRequest) -> None:
        self._free.put(request)

    def _wait(self, timeout: float | None) -> ov.InferRequest:
        with self._lock:
            if self._waiting >= self._max_waiting:
                raise Overloaded(
                    f"all infer requests are busy and {self._waiting} requests already wait "
                    f"(--max_queued_requests {self._max_waiting}); retry later"
                )
            self._waiting += 1
        try:
            if timeout is not None and timeout <= 0:
                raise queue.Empty
            return self._free.get(timeout=timeout)
        except queue.Empty:
            raise DeadlineExceeded("deadline exceeded while waiting for a free infer request") from None
        finally:
            with self._lock:
                self._waiting -= 1


class CompiledVersion:
    """One compiled model version with its pool of infer requests.

    Parallel callers wait their turn for an infer request instead of failing (within the
    pool's limits); OpenVINO releases the GIL while it computes."""

    def __init__(
        self,
        compiled: ov.CompiledModel,
        mapping: Mapping[str, Mapping[str, str]],
        nireq: int | None,
        max_waiting: int = DEFAULT_MAX_QUEUED,
        batch_one: ov.CompiledModel | None = None,
    ):
        """batch_one: the same model compiled with a static batch of 1, for batch-1 requests."""
        self._compiled = compiled
        self._batch_one = batch_one
        in_map, out_map = mapping["inputs"], mapping["outputs"]
        self.inputs = {}
        self._input_index = {}
        for index, port in enumerate(compiled.inputs):
            name = in_map.get(_port_name(port), _port_name(port))
            self.inputs[name] = TensorSpec(name, _numpy_dtype(port, "input"), _dims(port.get_partial_shape()))
            self._input_index[name] = index
        self.outputs = {}
        self._output_index = {}
        for index, port in enumerate(compiled.outputs):
            name = out_map.get(_port_name(port), _port_name(port))
            self.outputs[name] = TensorSpec(name, _numpy_dtype(port, "output"), _dims(port.get_partial_shape()))
            self._output_index[name] = index
        precision = _property(compiled, "INFERENCE_PRECISION_HINT")
        self.precision = precision.get_type_name() if isinstance(precision, ov.Type) else str(precision)
        self.hint = str(_property(compiled, "PERFORMANCE_HINT"))
        self.nireq = nireq or _optimal_nireq(compiled)
        self._pool = RequestPool((compiled.create_infer_request() for _ in range(self.nireq)), max_waiting)
        self._pool_one = None
        self.batch_one_hint = None
        if batch_one is not None:
            count = nireq or _optimal_nireq(batch_one)
            self._pool_one = RequestPool((batch_one.create_infer_request() for _ in range(count)), max_waiting)
            self.batch_one_hint = str(_property(batch_one, "PERFORMANCE_HINT"))

    def infer(
        self, inputs: Mapping[str, np.ndarray], outputs: Iterable[str], deadline: float | None = None
    ) -> dict[str, np.ndarray]:
        """Run the model on validated inputs (client names) and return the named outputs.

        deadline is a time.monotonic() value after which no infer request is waited for."""
        feed = {self._input_index[name]: _to_ov(array) for name, array in inputs.items()}
        pool = self._pool
        if self._pool_one is not None and all(array.shape[0] == 1 for array in inputs.values()):
            pool = self._pool_one
        request = pool.take(None if deadline is None else deadline - time.monotonic())
        try:
            # the answer infer() builds is not used (outputs are read below and copied once by
            # _from_ov): sharing OpenVINO's memory there saves a copy of every output
            request.infer(feed, share_inputs=True, share_outputs=True)
            return {name: _from_ov(request.get_output_tensor(self._output_index[name])) for name in outputs}
        except RuntimeError as exc:
            raise InferenceFailed(f"OpenVINO inference failed: {_first_line(exc)}") from exc
        finally:
            pool.give(request)


def _optimal_nireq(compiled: ov.CompiledModel) -> int:
    return int(_property(compiled, "OPTIMAL_NUMBER_OF_INFER_REQUESTS") or 1)


def _property(compiled: ov.CompiledModel, key: str) -> object:
    try:
        return compiled.get_property(key)
    except RuntimeError:
        return None


def _to_ov(array: np.ndarray) -> np.ndarray | ov.Tensor:
    """An input OpenVINO can take: writable numpy memory it shares, or a bf16 tensor."""
    if array.dtype != BFLOAT16:
        # read-only buffers (decoded straight from the request) are copied once here;
        # OpenVINO refuses read-only scalars and would copy read-only arrays itself
        return array if array.flags.writeable else array.copy()
    tensor = ov.Tensor(ov.Type.bf16, list(array.shape))
    tensor.data.view(np.uint16)[...] = array.view(np.uint16)
    return tensor


def _from_ov(tensor: ov.Tensor) -> np.ndarray:
    if tensor.element_type == ov.Type.bf16:
        return tensor.data.view(np.uint16).copy().view(BFLOAT16)
    return tensor.data.copy()


def load_version(
    version_dir: pathlib.Path,
    files: ModelFiles,
    config: ModelConfig,
    options: EngineOptions = DEFAULT_OPTIONS,
) -> CompiledVersion:
    """Read (with the frontend for its format), reshape and compile one version; raise
    ModelLoadError with the reason."""
    mapping = _read_mapping(version_dir)
    try:
        model = core().read_model(*(str(version_dir / path) for path in files.paths))
    except RuntimeError as exc:
        raise ModelLoadError(f"cannot read {files.format} {files.paths[0]}: {_first_line(exc)}") from None
    targets = _target_shapes(model, config, mapping["inputs"])
    try:
        if targets:
            model.reshape(targets)
        compiled = compile_for_serving(model, config, options)
    except RuntimeError as exc:
        raise ModelLoadError(f"cannot compile for {config.target_device}: {_first_line(exc)}") from None
    batch_one = _compile_batch_one(model, config, options) if config.static_batch_one else None
    return CompiledVersion(compiled, mapping, config.nireq, options.max_queued, batch_one)


def _compile_batch_one(model: ov.Model, config: ModelConfig, options: EngineOptions) -> ov.CompiledModel | None:
    """The model compiled again with a static batch of 1 when the batch (dimension 0) is the
    only dynamic dimension of every input: static shapes run faster (MobileNetV2 served at
    batch 1: 8-21% more inferences/s at f32, 10-12% at bf16), and batch 1 is most online traffic."""
    shapes = {}
    for index, port in enumerate(model.inputs):
        partial = port.get_partial_shape()
        if partial.rank.is_dynamic or len(partial) == 0 or partial[0].is_static:
            return None
        if any(dim.is_dynamic for dim in list(partial)[1:]):
            return None
        shapes[index] = ov.PartialShape([1, *(dim.get_length() for dim in list(partial)[1:])])
    try:
        twin = model.clone()
        twin.reshape(shapes)
        return compile_for_serving(twin, config, options)
    except RuntimeError as exc:
        log.warning(
            "model %s: no static batch-1 copy (%s); batch-1 requests use the dynamic one", config.name, _first_line(exc)
        )
        return None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.startswith(("Exception from", "Check '"))]
    return (meaningful or lines or [type(exc).__name__])[0]
