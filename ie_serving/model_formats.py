"""Which model a version directory holds, by the files present: OpenVINO IR, TF SavedModel,
ONNX, TFLite or PaddlePaddle, all read by OpenVINO's own frontends (no TensorFlow,
onnxruntime or Paddle in the server). Exactly one model per version directory."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from ie_serving.errors import ModelLoadError

EXPECTED = (
    "an OpenVINO IR pair (.xml + .bin), a TF SavedModel (saved_model.pb + variables/), "
    "one .onnx, one .tflite, or a PaddlePaddle pair (.pdmodel + .pdiparams)"
)


@dataclasses.dataclass(frozen=True)
class ModelFiles:
    """A detected model: its format and the paths (relative to the version directory) that
    OpenVINO's read_model takes: model file [, weights file]; "." for a SavedModel."""

    format: str
    paths: tuple[str, ...]


def _with_suffix(names: list[str], suffix: str) -> list[str]:
    return sorted(n for n in names if n.lower().endswith(suffix))


def detect(file_names: Iterable[str]) -> ModelFiles:
    """The one model among a version directory's files; ModelLoadError says why not."""
    names = list(file_names)
    top = [n for n in names if "/" not in n]
    candidates: list[ModelFiles] = []
    problems: list[str] = []
    xmls, bins = _with_suffix(top, ".xml"), _with_suffix(top, ".bin")
    if len(xmls) == 1 and len(bins) == 1:
        candidates.append(ModelFiles("OpenVINO IR", (xmls[0], bins[0])))
    elif xmls or bins:
        problems.append(f"an IR needs exactly one .xml and one .bin file, found .xml {xmls} and .bin {bins}")
    if "saved_model.pb" in top:
        candidates.append(ModelFiles("TF SavedModel", (".",)))
    candidates += [ModelFiles("ONNX", (n,)) for n in _with_suffix(top, ".onnx")]
    candidates += [ModelFiles("TFLite", (n,)) for n in _with_suffix(top, ".tflite")]
    pdmodels, pdiparams = _with_suffix(top, ".pdmodel"), _with_suffix(top, ".pdiparams")
    if len(pdmodels) == 1 and len(pdiparams) == 1:
        candidates.append(ModelFiles("PaddlePaddle", (pdmodels[0], pdiparams[0])))
    elif pdmodels or pdiparams:
        problems.append(f"a PaddlePaddle model needs one .pdmodel and one .pdiparams, found {pdmodels + pdiparams}")
    if len(candidates) == 1 and not problems:
        return candidates[0]
    if len(candidates) > 1:
        found = ", ".join(f"{c.format} {list(c.paths)}" for c in candidates)
        raise ModelLoadError(f"found {len(candidates)} candidate models ({found}); a version holds exactly one")
    reason = "; ".join(problems) or (f"found only {sorted(top)}" if top else "found no files at its top level")
    raise ModelLoadError(f"no model found, expected {EXPECTED}: {reason}")
