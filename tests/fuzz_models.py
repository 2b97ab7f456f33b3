"""The models, reference and strategies the REST and KServe v2 fuzz tests share
(tests/functional/test_rest_fuzz.py, test_v2_fuzz.py): five small models with every served
dtype, OpenVINO's own result as the reference, hypothesis settings and value strategies."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import numpy as np
import openvino as ov
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ie_serving.compile_policy import CPU_DEFAULTS
from tests import models
from tests.rest_helpers import RestServer, write_config

MODELS = ["scale", "multi", "int8", "bool", "dynamic"]
F32, I8, I64, BOOL = np.dtype(np.float32), np.dtype(np.int8), np.dtype(np.int64), np.dtype(np.bool_)
# name -> inputs {name: (dtype, shape)}, outputs {name: (dtype, shape)}, the outputs computed
# with numpy (for an empty batch; otherwise OpenVINO's own result is the reference, its int8
# addition saturating where numpy's wraps)
SERVED = {
    "scale": ({"x": (F32, [-1, 4])}, {"y": (F32, [-1, 4])}, lambda x: {"y": x * np.float32(2)}),
    "multi": (
        {"a": (F32, [-1, 3]), "b": (F32, [-1, 3]), "c": (I64, [2])},
        {"sum": (F32, [-1, 3]), "prod": (F32, [-1, 3]), "c2": (I64, [2])},
        lambda a, b, c: {"sum": a + b, "prod": a * b, "c2": c * 2},
    ),
    "int8": ({"x": (I8, [-1, 3])}, {"y": (I8, [-1, 3])}, lambda x: {"y": x + np.int8(1)}),
    "bool": ({"x": (BOOL, [-1, 3])}, {"y": (BOOL, [-1, 3])}, lambda x: {"y": np.logical_not(x)}),
    "dynamic": (
        {"x": (F32, [-1, -1])},
        {"row_sum": (F32, [-1]), "square": (F32, [-1, -1])},
        lambda x: {"row_sum": x.sum(axis=1, dtype=np.float32), "square": x * x},
    ),
}

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=False
)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.sampled_from(["x", "a", "b", "c", "b64", "y"]), inner, max_size=3),
    ),
    max_leaves=30,
)
LEAVES = {
    F32: st.floats(-(2.0**50), 2.0**50, width=32),  # squares stay finite in float32
    I8: st.integers(-128, 127),
    I64: st.integers(-(2**62), 2**62),
    BOOL: st.booleans(),
}


def save_models(root: pathlib.Path) -> pathlib.Path:
    """The MODELS, each as version 1 under root/NAME."""
    models.save(models.scale_model(2.0), root / "scale")
    models.save(models.multi_io_model(), root / "multi")
    models.save(models.dtype_model(np.int8), root / "int8")
    models.save(models.dtype_model(np.bool_), root / "bool")
    models.save(models.dynamic_model(), root / "dynamic")
    return root


def openvino_reference(root: pathlib.Path) -> Callable[[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """model -> OpenVINO's own result for inputs (the server's default properties), each model
    compiled once; for an empty batch, the outputs computed with numpy."""
    core = ov.Core()
    compiled = {n: core.compile_model(core.read_model(str(root / n / "1" / "model.xml")), "CPU", dict(CPU_DEFAULTS))
                for n in MODELS}  # fmt: skip

    def infer(model: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if any(0 in array.shape for array in inputs.values()):
            return SERVED[model][2](**inputs)
        result = compiled[model].create_infer_request().infer(inputs)
        return {port.get_any_name(): np.array(value) for port, value in result.items()}

    return infer


def start_server(root: pathlib.Path, log_dir: pathlib.Path) -> RestServer:
    """`ie_serving config` serving the MODELS under root, REST on, ready."""
    config = write_config(root / "config.json", [{"name": n, "base_path": str(root / n)} for n in MODELS])
    return RestServer(["config", "--config_path", str(config)], log_dir / "server.log").wait_ready()
