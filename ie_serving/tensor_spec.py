"""What a model offers clients, without OpenVINO: tensor specs, signatures, and the checks a
request's inputs go through once, in the pipeline (service.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from ie_serving.dtypes import can_convert, tf_name
from ie_serving.errors import FailedPrecondition, InvalidInput
from ie_serving.images import DEFAULT_IMAGE_OPTIONS, ImageOptions, decode_encoded_inputs

SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"


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


@dataclasses.dataclass(frozen=True)
class Signature:
    """One signature of a model version: its inputs and outputs by client name."""

    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]
    method_name: str = PREDICT_METHOD
    not_served: str = ""  # why requests cannot use it (listed in metadata all the same); empty: served


def find_signature(signatures: Mapping[str, Signature], name: str) -> Signature:
    """The signature called `name` (empty: serving_default), or FailedPrecondition naming those served."""
    signature = signatures.get(name or SIGNATURE)
    if signature is None:
        served = ", ".join(f'"{key}"' for key in sorted(signatures) if not signatures[key].not_served)
        raise FailedPrecondition(f'Serving signature key "{name}" not found; the signatures served are {served}')
    if signature.not_served:
        raise FailedPrecondition(f'Serving signature key "{name}" is not served: {signature.not_served}')
    return signature


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


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "any shape" if shape is None else str(list(shape))


def validate_inputs(
    inputs: Mapping[str, np.ndarray],
    specs: Mapping[str, TensorSpec],
    where: str,
    dtype_name: Callable[[np.dtype], str] = tf_name,
) -> dict[str, np.ndarray]:
    """The inputs checked against the specs (names, then dtype and shape of each) and converted
    to the specs' dtypes where that loses nothing; InvalidInput says what was expected and what
    came, naming dtypes in the client's protocol (`dtype_name`: DT_FLOAT, or FP32 for v2)."""
    check_input_names(inputs, specs, where)
    prepared = {}
    for name, array in inputs.items():
        spec = specs[name]
        if array.dtype != spec.dtype:
            if not can_convert(array.dtype, spec.dtype):
                raise InvalidInput(
                    f"{where}: input {name!r} expects dtype {dtype_name(spec.dtype)}, got {dtype_name(array.dtype)}"
                )
            array = array.astype(spec.dtype)
        if not spec.accepts_shape(array.shape):
            raise InvalidInput(
                f"{where}: input {name!r} expects shape {_shape_text(spec.shape)} (-1: any size), "
                f"got {list(array.shape)}"
            )
        prepared[name] = array
    return prepared


def check_output_filter(output_filter: Iterable[str], specs: Mapping[str, TensorSpec], where: str) -> list[str]:
    """The outputs to compute: those named, in order, or all when none are named. A name given
    twice is refused with TF Serving's words (servables/tensorflow/predict_util.cc)."""
    wanted = list(output_filter)
    repeated = [name for index, name in enumerate(wanted) if name in wanted[:index]]
    if repeated:
        raise InvalidInput(f"duplicate output tensor alias: {repeated[0]}")
    unknown = sorted(set(wanted) - set(specs))
    if unknown:
        raise InvalidInput(f"{where}: output_filter names unknown output(s) {unknown}; outputs: {sorted(specs)}")
    return wanted or list(specs)


# signature name -> Signature of the leased version; raises FailedPrecondition for unknown names
SignatureLookup = Callable[[str], Signature]


@dataclasses.dataclass(frozen=True)
class Decoded:
    """A predict request as a front end decoded it (not yet validated)."""

    inputs: Mapping[str, np.ndarray]
    signature_name: str = ""
    output_filter: Sequence[str] = ()
    dtype_name: Callable[[np.dtype], str] = tf_name  # how errors name dtypes (the request's protocol)


# A front end's decoder: given the leased version's signatures, the request's inputs.
Decoder = Callable[[SignatureLookup], Decoded]


def prepare_request(
    signatures: Mapping[str, Signature], decode: Decoder, where: str, images: ImageOptions = DEFAULT_IMAGE_OPTIONS
) -> tuple[dict[str, np.ndarray], list[str]]:
    """A request decoded against `signatures` and checked once: the inputs in the signature's
    dtypes and the outputs to compute. The one preparation every predict goes through (the
    service's pipeline, and warmup records before a version serves). String tensors sent to
    numeric inputs (DT_STRING, {"b64": ...}, an image body) are decoded as images first, with
    the model's `images` options, and then validated like any other input."""
    request = decode(lambda signature_name: find_signature(signatures, signature_name))
    signature = find_signature(signatures, request.signature_name)
    inputs = decode_encoded_inputs(request.inputs, signature.inputs, images, where, request.dtype_name)
    inputs = validate_inputs(inputs, signature.inputs, where, request.dtype_name)
    return inputs, check_output_filter(request.output_filter, signature.outputs, where)
