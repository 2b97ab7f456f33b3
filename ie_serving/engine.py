"""A compiled model version: read it in any served format, reshape it as configured, compile
it (compile_policy.py), describe its inputs and outputs, and run inference from a pool of
infer requests (request_pool.py).

Knows nothing of protobuf, JSON or HTTP: tensors in and out are numpy arrays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import pathlib
import time
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import openvino as ov

from ie_serving import batching_config
from ie_serving.batching import Batcher, BatchStats
from ie_serving.batching_config import BatchingParameters
from ie_serving.compile_policy import compile_for_serving, compile_static_batch, core, first_line, for_batching
from ie_serving.config import DEFAULT_MAX_QUEUED, ModelConfig
from ie_serving.dtypes import BFLOAT16, NUMPY_BY_OV, STRING
from ie_serving.errors import ConfigError, InferenceFailed, ModelLoadError
from ie_serving.images import DEFAULT_IMAGE_OPTIONS, ImageOptions, check_image_options
from ie_serving.inference_stats import Phases
from ie_serving.model_formats import ModelFiles
from ie_serving.request_pool import PoolStats, RequestPool
from ie_serving.saved_model import DeclaredSignature, example_parsing_signatures, read_signatures
from ie_serving.tensor_spec import PREDICT_METHOD, SIGNATURE, Signature, TensorSpec
from ie_serving.warmup import run_warmup

log = logging.getLogger(__name__)

MAPPING_FILE = "mapping_config.json"


@dataclasses.dataclass(frozen=True)
class EngineOptions:
    """Server-wide settings for every compiled version."""

    max_queued: int = DEFAULT_MAX_QUEUED  # callers that may wait for a free infer request
    compile_cache_dir: pathlib.Path | None = None  # OpenVINO CACHE_DIR: restarts skip compilation
    # times each warmup record (assets.extra/tf_serving_warmup_requests) is replayed; 0: no warmup
    warmup_iterations: int = 1
    # server-wide batching (--enable_batching with --batching_parameters_file); None: off unless
    # a model's own `batching` turns it on
    batching: BatchingParameters | None = None
    # --enable_per_model_batching_parameters: a version batches with its batching_params.pbtxt, if any
    per_model_batching: bool = False


DEFAULT_OPTIONS = EngineOptions()


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


def _target_shapes(
    model: ov.Model, config: ModelConfig, mapping: Mapping[str, str], dynamic_batch: bool = False
) -> dict:
    """New partial shapes per input from the config's `shape` and `batch_size`; with
    `dynamic_batch` (batching on), dimension 0 of every input becomes dynamic."""
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
        if dynamic_batch and partial.rank.is_static and len(partial) > 0 and partial[0].is_static:
            partial = ov.PartialShape([ov.Dimension(), *list(partial)[1:]])
        if partial != port.get_partial_shape():
            targets[port] = partial
    return targets


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
        static: Mapping[int, ov.CompiledModel] | None = None,
        declared: Mapping[str, DeclaredSignature] | None = None,
        batching: BatchingParameters | None = None,
        name: str = "",
        image_options: ImageOptions = DEFAULT_IMAGE_OPTIONS,
    ):
        """static: the same model compiled with static batch sizes (1; with batching its allowed
        batch sizes), for inputs of exactly that batch.
        declared: a SavedModel's own signatures (saved_model.py), served through this compiled
        model where they compute what serving_default does, listed otherwise.
        batching: requests are merged into batches (batching.py) before they take an infer
        request; max_waiting then bounds the requests in the batching queue. name: the model
        version, for the log. image_options: how encoded images sent to its
        numeric inputs are decoded (images.py); ModelLoadError when its mean/scale do not fit an
        input that takes images."""
        self._compiled = compiled
        self.image_options = image_options
        in_map, out_map = mapping["inputs"], mapping["outputs"]
        self.inputs: dict[str, TensorSpec] = {}
        self._input_index = {}
        for index, port in enumerate(compiled.inputs):
            name = in_map.get(_port_name(port), _port_name(port))
            self.inputs[name] = TensorSpec(name, _numpy_dtype(port, "input"), _dims(port.get_partial_shape()))
            self._input_index[name] = index
        self.outputs: dict[str, TensorSpec] = {}
        self._output_index = {}
        for index, port in enumerate(compiled.outputs):
            name = out_map.get(_port_name(port), _port_name(port))
            self.outputs[name] = TensorSpec(name, _numpy_dtype(port, "output"), _dims(port.get_partial_shape()))
            self._output_index[name] = index
        check_image_options(self.inputs, image_options)
        self.signatures = _signatures(self.inputs, self.outputs, declared or {})
        precision = _property(compiled, "INFERENCE_PRECISION_HINT")
        self.precision = precision.get_type_name() if isinstance(precision, ov.Type) else str(precision)
        self.hint = str(_property(compiled, "PERFORMANCE_HINT"))
        self.nireq = nireq or _optimal_nireq(compiled)
        # running batches wait for an infer request as long as needed: the queue in front bounds the load
        pool_waiting = max_waiting if batching is None else max(max_waiting, batching.num_batch_threads)
        self._pool = RequestPool((compiled.create_infer_request() for _ in range(self.nireq)), pool_waiting)
        self._static_pools = {
            size: RequestPool((copy.create_infer_request() for _ in range(nireq or _optimal_nireq(copy))), pool_waiting)
            for size, copy in (static or {}).items()
        }
        one = (static or {}).get(1)
        self.batch_one_hint = None if one is None else str(_property(one, "PERFORMANCE_HINT"))
        self._batcher = None
        if batching is not None:
            if batching.num_batch_threads > self.nireq:
                # a batch taken while no infer request is free would only wait, and stop growing
                log.info(
                    "%s: at most %d batch(es) run at once: num_batch_threads %d, but the version has %d infer "
                    "request(s)",
                    name,
                    self.nireq,
                    batching.num_batch_threads,
                    self.nireq,
                )
                batching = dataclasses.replace(batching, num_batch_threads=self.nireq)
            self._batcher = Batcher(self._infer_now, batching, max_waiting, name, sequential=True)

    def infer(
        self,
        inputs: Mapping[str, np.ndarray],
        outputs: Iterable[str],
        deadline: float | None = None,
        phases: Phases | None = None,
    ) -> dict[str, np.ndarray]:
        """Run the model on validated inputs (client names) and return the named outputs, in a
        batch with other requests when batching is on.

        deadline is a time.monotonic() value after which no infer request (or batch) is waited
        for; phases, when given, receives the wait for an infer request (queue), OpenVINO's infer
        (compute_infer) and the copy of the outputs (compute_output) in nanoseconds (batched: the
        time in the batching queue, and its batch's run as compute_infer)."""
        if self._batcher is not None:
            return self._batcher.submit(inputs, tuple(outputs), deadline, phases)
        return self._infer_now(inputs, outputs, deadline, phases)

    def receiving(self) -> contextlib.AbstractContextManager[None]:
        """Around the decoding of a request and its infer() on this thread: with batching, the
        version does not count as idle meanwhile (Batcher.receiving); nothing otherwise."""
        return contextlib.nullcontext() if self._batcher is None else self._batcher.receiving()

    def _infer_now(
        self,
        inputs: Mapping[str, np.ndarray],
        outputs: Iterable[str],
        deadline: float | None = None,
        phases: Phases | None = None,
    ) -> dict[str, np.ndarray]:
        """One inference on one infer request (a static copy's when one has the inputs' batch)."""
        feed = {self._input_index[name]: _to_ov(array) for name, array in inputs.items()}
        pool = self._pool
        if self._static_pools:
            batches = {array.shape[0] if array.ndim else None for array in inputs.values()}
            if len(batches) == 1:
                pool = self._static_pools.get(batches.pop(), pool)
        began = time.perf_counter_ns()
        request = pool.take(None if deadline is None else deadline - time.monotonic())
        try:
            taken = time.perf_counter_ns()
            # the answer infer() builds is not used (outputs are read below and copied once by
            # _from_ov): sharing OpenVINO's memory there saves a copy of every output
            request.infer(feed, share_inputs=True, share_outputs=True)
            computed = time.perf_counter_ns()
            answer = {name: _from_ov(request.get_output_tensor(self._output_index[name])) for name in outputs}
            if phases is not None:
                phases.queue = taken - began
                phases.compute_infer = computed - taken
                phases.compute_output = time.perf_counter_ns() - computed
            return answer
        except RuntimeError as exc:
            raise InferenceFailed(f"OpenVINO inference failed: {first_line(exc)}") from exc
        finally:
            pool.give(request)

    def pool_stats(self) -> PoolStats:
        """The infer request pools' counts (the static copies' included), for metrics."""
        stats = self._pool.stats()
        for pool in self._static_pools.values():
            stats = stats + pool.stats()
        return stats

    def batch_stats(self) -> BatchStats | None:
        """The batching queue's counts, for metrics (None: requests are not batched)."""
        return None if self._batcher is None else self._batcher.stats()

    def close(self) -> None:
        """Run the queued batches at once (the version is unloaded)."""
        if self._batcher is not None:
            self._batcher.close()


def _signatures(
    inputs: dict[str, TensorSpec], outputs: dict[str, TensorSpec], declared: Mapping[str, DeclaredSignature]
) -> dict[str, Signature]:
    """serving_default (the model OpenVINO read), every declared signature that computes the same,
    and the other declared ones as not served, with the reason."""
    default = declared.get(SIGNATURE)
    signatures = {SIGNATURE: Signature(inputs, outputs, default.method_name if default else PREDICT_METHOD)}
    for name, signature in declared.items():
        if name == SIGNATURE:
            continue
        if signature.same_as_default:
            signatures[name] = Signature(inputs, outputs, signature.method_name)
        else:
            why = "OpenVINO reads a SavedModel's serving_default signature only, and this one computes something else"
            signatures[name] = Signature(signature.inputs, signature.outputs, signature.method_name, why)
    return signatures


def _optimal_nireq(compiled: ov.CompiledModel) -> int:
    return int(_property(compiled, "OPTIMAL_NUMBER_OF_INFER_REQUESTS") or 1)


def _property(compiled: ov.CompiledModel, key: str) -> object:
    try:
        return compiled.get_property(key)
    except RuntimeError:
        return None


def _to_ov(array: np.ndarray) -> np.ndarray | ov.Tensor:
    """An input OpenVINO can take: writable numpy memory it shares, a bf16 tensor, or a string
    tensor filled from an object array of bytes."""
    if array.dtype == STRING:
        tensor = ov.Tensor(ov.Type.string, list(array.shape))
        if array.size:
            tensor.bytes_data = [bytes(value) for value in array.flat]
        return tensor
    if array.dtype != BFLOAT16:
        # read-only buffers (decoded straight from the request) are copied once here;
        # OpenVINO refuses read-only scalars and would copy read-only arrays itself
        return array if array.flags.writeable else array.copy()
    tensor = ov.Tensor(ov.Type.bf16, list(array.shape))
    tensor.data.view(np.uint16)[...] = array.view(np.uint16)
    return tensor


def _from_ov(tensor: ov.Tensor) -> np.ndarray:
    """A copy of an output; strings as an object array of bytes (OpenVINO's Python API hands
    them out as numpy fixed-width bytes, which drop a string's trailing zero bytes)."""
    if tensor.element_type == ov.Type.string:
        strings = np.empty(tuple(tensor.shape), dtype=STRING)
        if tensor.size:
            strings.flat[:] = [bytes(value) for value in tensor.bytes_data.flat]
        return strings
    if tensor.element_type == ov.Type.bf16:
        return tensor.data.view(np.uint16).copy().view(BFLOAT16)
    return tensor.data.copy()


def _batching_for(version_dir: pathlib.Path, config: ModelConfig, options: EngineOptions) -> BatchingParameters | None:
    """The batching parameters of one version: its batching_params.pbtxt with
    --enable_per_model_batching_parameters (TF Serving: a version without one is not batched
    unless the model's own `batching` asks for it), else the model's `batching` (False: off),
    else the server-wide ones. ModelLoadError for a bad file."""
    own = config.batching
    params = options.batching if own is None else own or None
    if params is None or not options.per_model_batching:
        return params
    path = version_dir / batching_config.PER_MODEL_FILE
    if not path.exists():
        return own or None
    try:
        return batching_config.read_file(str(path), "--enable_per_model_batching_parameters")
    except ConfigError as exc:
        raise ModelLoadError(str(exc)) from None


def _batching_shapes(model: ov.Model, config: ModelConfig, mapping: Mapping[str, str], what: str) -> dict | None:
    """The reshape targets with every input's batch dimension dynamic; None, with a warning
    saying why, when the model cannot batch (an input without dimensions, inputs whose first
    dimensions differ, a static batch_size asked for)."""
    why = None
    if isinstance(config.batch_size, int):
        why = f"batch_size {config.batch_size} asks for a static batch"
    firsts = set()
    for port in model.inputs:
        partial = port.get_partial_shape()
        if partial.rank.is_dynamic or len(partial) == 0:
            why = f"input {_port_name(port)!r} has no batch dimension (shape {partial})"
        else:
            firsts.add(partial[0].get_length() if partial[0].is_static else -1)
    if len(firsts) > 1:
        shapes = {_port_name(port): str(port.get_partial_shape()) for port in model.inputs}
        why = f"the inputs' first dimensions are not one batch dimension {shapes}"
    if why is not None:
        log.warning("%s: batching is off for this version: %s", what, why)
        return None
    return _target_shapes(model, config, mapping, dynamic_batch=True)


def _prepare_batching(
    model: ov.Model,
    config: ModelConfig,
    mapping: Mapping[str, str],
    batching: BatchingParameters,
    what: str,
    read: Callable[[], ov.Model],
) -> tuple[ov.Model, dict, BatchingParameters | None]:
    """The model reshaped with every input's batch dimension dynamic (the config's `shape`
    otherwise applied; no reshape targets left) and the parameters, or, when it cannot batch,
    the model as read, its own reshape targets and None; the log says which."""
    targets = _target_shapes(model, config, mapping)
    batch_targets = _batching_shapes(model, config, mapping, what)
    if batch_targets is None:
        return model, targets, None
    # an input whose shape without batching (the model's, or the config's `shape`) differs
    made_dynamic = []
    for port in model.inputs:
        own = port.get_partial_shape()
        before, after = targets.get(port, own), batch_targets.get(port, own)
        if before != after:
            made_dynamic.append(f"{_port_name(port)} {before} -> {after}")
    if batch_targets:
        try:
            model.reshape(batch_targets)
        except RuntimeError as exc:
            log.warning(
                "%s: batching is off for this version: its batch dimension cannot be made dynamic (%s)",
                what,
                first_line(exc),
            )
            return read(), targets, None
    targets = {}
    log.info(
        "%s: batching on (%s)%s",
        what,
        batching.describe(),
        f"; compiled with a dynamic batch dimension: {', '.join(made_dynamic)}" if made_dynamic else "",
    )
    return model, targets, batching


def load_version(
    version_dir: pathlib.Path,
    files: ModelFiles,
    config: ModelConfig,
    options: EngineOptions = DEFAULT_OPTIONS,
) -> CompiledVersion:
    """Read (with the frontend for its format), reshape and compile one version, then replay its
    warmup requests (warmup.py); raise ModelLoadError with the reason. With batching, every
    input's batch dimension is made dynamic (the log says which were static)."""
    mapping = _read_mapping(version_dir)
    what = f"model {config.name} version {version_dir.name}"

    def read() -> ov.Model:
        try:
            return core().read_model(*(str(version_dir / path) for path in files.paths))
        except RuntimeError as exc:
            hint = ""
            parsing = example_parsing_signatures(version_dir) if files.format == "TF SavedModel" else []
            if parsing:
                hint = (
                    f"; signature(s) {parsing} take serialized tf.Examples parsed inside the graph, which OpenVINO "
                    "cannot convert: export the model with inputs named like the features instead, and this "
                    "server parses the examples of Classify/Regress (docs/grpc_api.md)"
                )
            raise ModelLoadError(f"cannot read {files.format} {files.paths[0]}: {first_line(exc)}{hint}") from None

    model = read()
    targets = _target_shapes(model, config, mapping["inputs"])
    batching = _batching_for(version_dir, config, options)
    if batching is not None:
        model, targets, batching = _prepare_batching(model, config, mapping["inputs"], batching, what, read)
        if batching is not None:  # the model can batch
            config = for_batching(config, what)
    try:
        if targets:
            model.reshape(targets)
        compiled = compile_for_serving(model, config, options.compile_cache_dir)
    except RuntimeError as exc:
        raise ModelLoadError(f"cannot compile for {config.target_device}: {first_line(exc)}") from None
    sizes = [1] if config.static_batch_one else []
    sizes += [size for size in (batching.allowed_batch_sizes if batching else ()) if size not in sizes]
    static = {}
    for size in sizes:
        copy = compile_static_batch(model, config, size, options.compile_cache_dir)
        if copy is not None:
            static[size] = copy
    if batching is not None and batching.allowed_batch_sizes:
        log.info("%s: compiled static copies for batch sizes %s (allowed_batch_sizes)", what, sorted(static))
    declared = read_signatures(version_dir) if files.format == "TF SavedModel" else None
    images = ImageOptions(config.color_format, config.layout, config.mean, config.scale)
    version = CompiledVersion(
        compiled, mapping, config.nireq, options.max_queued, static, declared, batching, what, images
    )
    if options.warmup_iterations:
        try:
            run_warmup(version_dir, version, options.warmup_iterations)
        except BaseException:
            version.close()
            raise
    return version
