"""How a model version is compiled for serving: the process-wide OpenVINO Core, the CPU
defaults, the LATENCY choice for very fast models and for versions that batch, and the static
batch copies (batch 1, and the allowed batch sizes of server-side batching)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import pathlib
import time

import numpy as np
import openvino as ov

from ie_serving.config import ModelConfig
from ie_serving.dtypes import BFLOAT16, NUMPY_BY_OV, STRING

log = logging.getLogger(__name__)

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
# a run this slow ends the timing: the model is clearly not fast
_SLOW_RUN_SECONDS = 10 * FAST_INFERENCE_SECONDS


def for_batching(config: ModelConfig, what: str) -> ModelConfig:
    """The config a batching version compiles with: on CPU, PERFORMANCE_HINT=LATENCY unless
    plugin_config sets a hint. A batch is the parallel work, and LATENCY's one stream on every
    core runs it on both cores, where each THROUGHPUT stream has one core: a batch holding
    every waiting request left the other core idle. Measured side by side on 2 cores (gRPC,
    batch-1 clients, max_batch_size 8, batch_timeout_micros 1000), batching with THROUGHPUT
    against LATENCY, each over no batching: cnn at 4 clients 0.74x against 0.93x (1.03x
    against 1.00x at 32); mlp at 32 clients 1.28x against 1.70x; wide_mlp at 4 clients 1.38x
    against 1.76x (2.63x against 2.76x at 32)."""
    if config.target_device.upper() != "CPU" or "PERFORMANCE_HINT" in config.plugin_config:
        return config
    log.info(
        "%s: compiled for PERFORMANCE_HINT=LATENCY as it batches: one stream on every core runs each batch "
        "(set PERFORMANCE_HINT in plugin_config to choose)",
        what,
    )
    return dataclasses.replace(config, plugin_config={**config.plugin_config, "PERFORMANCE_HINT": "LATENCY"})


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
        if dtype not in (BFLOAT16, STRING):
            ov.Type(dtype).to_dtype()
            ov.Tensor(np.zeros(1, dtype), shared_memory=True)
    ov.Type.bf16.to_dtype()


def compile_properties(config: ModelConfig, cache_dir: pathlib.Path | None = None) -> dict:
    """The config's plugin_config over CACHE_DIR (when given) and, on CPU, CPU_DEFAULTS."""
    properties = dict(config.plugin_config)
    if cache_dir is not None:
        properties.setdefault("CACHE_DIR", str(cache_dir))
    if config.target_device.upper() == "CPU":
        for key, value in CPU_DEFAULTS.items():
            properties.setdefault(key, value)
    return properties


def compile_for_serving(
    model: ov.Model | str, config: ModelConfig, cache_dir: pathlib.Path | None = None, what: str = ""
) -> ov.CompiledModel:
    """Compile with the config's properties over the CPU defaults; a model that infers in
    under FAST_INFERENCE_SECONDS is compiled again for LATENCY unless PERFORMANCE_HINT is set.
    `what` names the copy being compiled in that log line (e.g. "static batch-1 copy")."""
    properties = compile_properties(config, cache_dir)
    compiled = core().compile_model(model, config.target_device, properties)
    if config.target_device.upper() != "CPU" or "PERFORMANCE_HINT" in config.plugin_config:
        return compiled
    seconds = _inference_seconds(compiled)
    if seconds is None or seconds >= FAST_INFERENCE_SECONDS:
        return compiled
    log.info(
        "model %s%s: one inference takes %.0f us with PERFORMANCE_HINT=THROUGHPUT; compiling it for LATENCY, "
        "faster for models this small (set PERFORMANCE_HINT in plugin_config to choose)",
        config.name,
        f" ({what})" if what else "",
        seconds * 1e6,
    )
    return core().compile_model(model, config.target_device, {**properties, "PERFORMANCE_HINT": "LATENCY"})


def _inference_seconds(compiled: ov.CompiledModel) -> float | None:
    """The shortest of up to _TIMED_INFERENCES inferences on zeros (safe as indices and loop
    counts too), after one untimed run: other work on the host only ever lengthens a run, so the
    shortest is the model's own cost. A run of _SLOW_RUN_SECONDS or more ends the timing. None
    for dynamic input shapes or input types that are not numbers (strings included)."""
    request = compiled.create_infer_request()
    try:
        for port in compiled.inputs:
            type_name = port.get_element_type().get_type_name()
            if port.get_partial_shape().is_dynamic or NUMPY_BY_OV.get(type_name, STRING) == STRING:
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
            if times[-1] >= _SLOW_RUN_SECONDS:
                break  # a slow model is not timed on: one run says enough
    except RuntimeError:
        return None
    return min(times)


def compile_static_batch(
    model: ov.Model, config: ModelConfig, size: int = 1, cache_dir: pathlib.Path | None = None
) -> ov.CompiledModel | None:
    """The model compiled again with a static batch of `size` when the batch (dimension 0) is
    the only dynamic dimension of every input: static shapes run faster (MobileNetV2 served at
    batch 1: 8-21% more inferences/s at f32, 10-12% at bf16; the benchmarks' mlp at batch 8:
    about twice the rows/s of the dynamic model). Batch 1 is most online traffic; batching
    compiles its allowed_batch_sizes too."""
    shapes = {}
    for index, port in enumerate(model.inputs):
        partial = port.get_partial_shape()
        if partial.rank.is_dynamic or len(partial) == 0 or partial[0].is_static:
            return None
        if any(dim.is_dynamic for dim in list(partial)[1:]):
            return None
        shapes[index] = ov.PartialShape([size, *(dim.get_length() for dim in list(partial)[1:])])
    try:
        twin = model.clone()
        twin.reshape(shapes)
        return compile_for_serving(twin, config, cache_dir, what=f"static batch-{size} copy")
    except RuntimeError as exc:
        log.warning(
            "model %s: no static batch-%d copy (%s); batch-%d requests use the dynamic one",
            config.name,
            size,
            first_line(exc),
            size,
        )
        return None


def first_line(exc: BaseException) -> str:
    """The meaningful first line of an OpenVINO error (its 'Exception from' and 'Check' lines skipped)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.startswith(("Exception from", "Check '"))]
    return (meaningful or lines or [type(exc).__name__])[0]
