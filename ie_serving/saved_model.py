"""The signatures a TF SavedModel declares, read from saved_model.pb without TensorFlow.

TF Serving serves every signature of a SavedModel (empty `signature_name` means
serving_default). OpenVINO's TensorFlow frontend reads the serving_default signature only, so
another signature is served when it computes the same thing: its outputs come from a signature
wrapper that calls the same concrete function as serving_default's wrapper, with the same input
and output keys. Keras 3's `model.export()` writes `serve` and `serving_default` this way. Any
other signature is listed in metadata, as the file declares it, and refused by Predict with the
reason.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib

from google.protobuf.message import DecodeError

from ie_serving.dtypes import NUMPY_BY_TF_NAME
from ie_serving.protos.tensorflow.core.framework import types_pb2
from ie_serving.protos.tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from ie_serving.tensor_spec import SIGNATURE, TensorSpec

log = logging.getLogger(__name__)

SERVE_TAG = "serve"
_INIT_OP = "__saved_model_init_op"


@dataclasses.dataclass(frozen=True)
class DeclaredSignature:
    """A signature as saved_model.pb declares it."""

    method_name: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    same_as_default: bool  # computed by serving_default's function, with its keys


_EXAMPLE_METHODS = ("tensorflow/serving/classify", "tensorflow/serving/regress")


def example_parsing_signatures(version_dir: pathlib.Path) -> list[str]:
    """The signatures that take serialized tf.Examples (TF's classify/regress signatures: a
    DT_STRING input parsed inside the graph, which OpenVINO cannot convert); [] when none or
    unreadable."""
    try:
        saved = saved_model_pb2.SavedModel.FromString((version_dir / "saved_model.pb").read_bytes())
    except (OSError, DecodeError):
        return []
    return sorted(
        name
        for graph in saved.meta_graphs
        for name, signature in graph.signature_def.items()
        if signature.method_name in _EXAMPLE_METHODS
        and any(info.dtype == types_pb2.DT_STRING for info in signature.inputs.values())
    )


def read_signatures(version_dir: pathlib.Path) -> dict[str, DeclaredSignature]:
    """The signatures of the `serve` meta graph (serving_default included); empty when the file
    cannot be read this way (OpenVINO's own reading then decides whether the version loads)."""
    try:
        saved = saved_model_pb2.SavedModel.FromString((version_dir / "saved_model.pb").read_bytes())
    except (OSError, DecodeError) as exc:
        log.warning("%s: signatures not read (%s); serving serving_default only", version_dir, exc)
        return {}
    graphs = [g for g in saved.meta_graphs if SERVE_TAG in g.meta_info_def.tags] or list(saved.meta_graphs)
    if not graphs:
        return {}
    graph = graphs[0]
    calls = _wrapped_functions(graph)
    default = graph.signature_def.get(SIGNATURE)
    default_calls = _signature_calls(graph, default, calls) if default is not None else set()
    declared = {}
    for name, signature in graph.signature_def.items():
        if name == _INIT_OP:
            continue
        inputs, outputs = _specs(signature.inputs), _specs(signature.outputs)
        if inputs is None or outputs is None:
            log.info("%s: signature %s has non-numeric tensors and is not listed", version_dir, name)
            continue
        same = default is not None and (
            name == SIGNATURE
            or (
                bool(default_calls)
                and _signature_calls(graph, signature, calls) == default_calls
                and set(signature.inputs) == set(default.inputs)
                and set(signature.outputs) == set(default.outputs)
            )
        )
        declared[name] = DeclaredSignature(signature.method_name, inputs, outputs, same)
    return declared


def _wrapped_functions(graph: meta_graph_pb2.MetaGraphDef) -> dict[str, frozenset[str]]:
    """Each library function -> the functions its nodes call (a signature wrapper's body)."""
    return {
        function.signature.name: frozenset(node.attr["f"].func.name for node in function.node_def if "f" in node.attr)
        for function in graph.graph_def.library.function
    }


def _signature_calls(
    graph: meta_graph_pb2.MetaGraphDef, signature: meta_graph_pb2.SignatureDef, calls: dict[str, frozenset[str]]
) -> set[str]:
    """The concrete functions a signature's outputs are computed by (through their wrappers)."""
    nodes = {node.name: node for node in graph.graph_def.node}
    found: set[str] = set()
    for info in signature.outputs.values():
        node = nodes.get(info.name.split(":", 1)[0])
        if node is None or "f" not in node.attr:
            return set()
        wrapper = node.attr["f"].func.name
        found |= calls.get(wrapper, frozenset())
    return found


def _specs(tensors: object) -> dict[str, TensorSpec] | None:
    specs = {}
    for key, info in tensors.items():  # type: ignore[attr-defined]
        dtype = (
            NUMPY_BY_TF_NAME.get(types_pb2.DataType.Name(info.dtype))
            if info.dtype in types_pb2.DataType.values()
            else None
        )
        if dtype is None:
            return None
        shape = None if info.tensor_shape.unknown_rank else tuple(d.size for d in info.tensor_shape.dim)
        specs[key] = TensorSpec(key, dtype, shape)
    return specs
