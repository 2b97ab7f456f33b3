"""The messages match TF Serving's wire format as OVMS's client (ovmsclient, which ships TF
Serving's full protos) has them. (The stubs against their .proto sources, and the server's
import graph without TensorFlow, need a fresh interpreter: tests/integration/test_protos_generated.py.)"""

import importlib

import pytest

# (our module, ovmsclient's module) under the same relative proto path
MODULES = [
    "tensorflow.core.framework.tensor_pb2",
    "tensorflow.core.framework.tensor_shape_pb2",
    "tensorflow.core.framework.types_pb2",
    "tensorflow.core.protobuf.meta_graph_pb2",
    "tensorflow_serving.apis.model_pb2",
    "tensorflow_serving.apis.predict_pb2",
    "tensorflow_serving.apis.get_model_metadata_pb2",
    "tensorflow_serving.apis.get_model_status_pb2",
    "tensorflow.core.example.feature_pb2",
    "tensorflow.core.example.example_pb2",
    "tensorflow_serving.apis.input_pb2",
    "tensorflow_serving.apis.classification_pb2",
    "tensorflow_serving.apis.regression_pb2",
    "tensorflow_serving.apis.inference_pb2",
]


def _fields(message):
    return {f.name: (f.number, f.type, f.is_repeated) for f in message.fields}


@pytest.mark.parametrize("module", MODULES)
def test_messages_match_tf_serving_wire_format(module):
    ours = importlib.import_module(f"ie_serving.protos.{module}")
    theirs = importlib.import_module(f"ovmsclient.tfs_compat.protos.{module}")
    assert ours.DESCRIPTOR.message_types_by_name or ours.DESCRIPTOR.enum_types_by_name
    for name, message in ours.DESCRIPTOR.message_types_by_name.items():
        reference = theirs.DESCRIPTOR.message_types_by_name[name]
        for field, shape in _fields(message).items():
            assert _fields(reference)[field] == shape, f"{name}.{field}"
        for nested_name, nested in message.nested_types_by_name.items():
            assert _fields(nested).items() <= _fields(reference.nested_types_by_name[nested_name]).items()
    for name, enum in ours.DESCRIPTOR.enum_types_by_name.items():
        reference = {v.name: v.number for v in theirs.DESCRIPTOR.enum_types_by_name[name].values}
        assert {v.name: v.number for v in enum.values}.items() <= reference.items()


def test_package_and_service_names_are_tf_servings():
    from ie_serving.protos.tensorflow_serving.apis import (
        get_model_metadata_pb2,
        model_service_pb2,
        prediction_service_pb2,
    )

    assert get_model_metadata_pb2.SignatureDefMap.DESCRIPTOR.full_name == "tensorflow.serving.SignatureDefMap"
    predict = prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"]
    assert predict.full_name == "tensorflow.serving.PredictionService"
    assert {m.name for m in predict.methods} == {"Classify", "Regress", "Predict", "MultiInference", "GetModelMetadata"}
    status = model_service_pb2.DESCRIPTOR.services_by_name["ModelService"]
    assert status.full_name == "tensorflow.serving.ModelService"
    assert [m.name for m in status.methods] == ["GetModelStatus", "HandleReloadConfigRequest"]
