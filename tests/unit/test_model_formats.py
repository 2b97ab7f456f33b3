"""Model format detection from a version directory's file names."""

import pytest

from ie_serving.errors import ModelLoadError
from ie_serving.model_formats import detect


@pytest.mark.parametrize(
    ("files", "format_", "paths"),
    [
        (["model.xml", "model.bin"], "OpenVINO IR", ("model.xml", "model.bin")),
        (["model.xml", "model.bin", "mapping_config.json", "README"], "OpenVINO IR", ("model.xml", "model.bin")),
        (["saved_model.pb", "variables/variables.index", "fingerprint.pb"], "TF SavedModel", (".",)),
        (["vad.onnx"], "ONNX", ("vad.onnx",)),
        (["m.tflite", "labels.txt"], "TFLite", ("m.tflite",)),
        (["inference.pdmodel", "inference.pdiparams"], "PaddlePaddle", ("inference.pdmodel", "inference.pdiparams")),
    ],
)
def test_detects_each_format(files, format_, paths):
    found = detect(files)
    assert (found.format, found.paths) == (format_, paths)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "no model found, expected an OpenVINO IR pair (.xml + .bin), a TF SavedModel"),
        (["notes.txt"], "found only ['notes.txt']"),
        (["a.xml", "b.xml", "a.bin"], "an IR needs exactly one .xml and one .bin file, found .xml ['a.xml', 'b.xml']"),
        (["model.xml", "model.bin", "model.onnx"], "found 2 candidate models (OpenVINO IR"),
        (["a.onnx", "b.onnx"], "found 2 candidate models (ONNX ['a.onnx'], ONNX ['b.onnx'])"),
        (["sub/model.xml", "sub/model.bin"], "found no files at its top level"),
    ],
)
def test_ambiguous_or_missing_models_are_refused(files, message):
    with pytest.raises(ModelLoadError) as info:
        detect(files)
    assert message in str(info.value)
