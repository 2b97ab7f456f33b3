"""Runs in the TensorFlow virtual environment: writes SavedModels with a warmup file
(assets.extra/tf_serving_warmup_requests, a TFRecord of PredictionLog protos written with
TensorFlow's own TFRecordWriter and tensorflow-serving-api's protos, as TF Serving's
documentation shows: g3doc/saved_model_warmup.md).

usage: warmup_models.py OUT_DIR
  OUT_DIR/good/1: three predict records and a classify record (two tf.Examples)
  OUT_DIR/bad/1: the second record names an input the model does not have
  OUT_DIR/bad_regress/1: a regress record, which the model's [batch, 4] output cannot answer
"""

import sys

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2, predict_pb2, prediction_log_pb2, regression_pb2


class Double(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def double(self, x):
        return {"y": x * 2.0}


def write(path: str, records: list) -> None:
    module = Double()
    tf.saved_model.save(module, path, signatures={"serving_default": module.double})
    tf.io.gfile.makedirs(f"{path}/assets.extra")
    with tf.io.TFRecordWriter(f"{path}/assets.extra/tf_serving_warmup_requests") as writer:
        for record in records:
            writer.write(record.SerializeToString())


def predict_log(name: str, rows: int) -> prediction_log_pb2.PredictionLog:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.inputs[name].CopyFrom(tf.make_tensor_proto(np.ones((rows, 4), np.float32)))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def examples(request, rows: int):
    request.model_spec.name = "m"
    for row in range(rows):
        feature = tf.train.Feature(float_list=tf.train.FloatList(value=[float(row)] * 4))
        request.input.example_list.examples.add().CopyFrom(
            tf.train.Example(features=tf.train.Features(feature={"x": feature}))
        )
    return request


def main(out: str) -> None:
    classify = prediction_log_pb2.PredictionLog(
        classify_log=prediction_log_pb2.ClassifyLog(request=examples(classification_pb2.ClassificationRequest(), 2))
    )
    regress = prediction_log_pb2.PredictionLog(
        regress_log=prediction_log_pb2.RegressLog(request=examples(regression_pb2.RegressionRequest(), 1))
    )
    write(f"{out}/good/1", [predict_log("x", 1), predict_log("x", 3), classify, predict_log("x", 2)])
    write(f"{out}/bad/1", [predict_log("x", 1), predict_log("nope", 1)])
    write(f"{out}/bad_regress/1", [regress])


if __name__ == "__main__":
    main(sys.argv[1])
