"""Runs in the TensorFlow virtual environment: builds models with real architectures and
random weights, exports them as TF Serving would serve them, and records TensorFlow's own
answers for the test to compare with the server's.

usage: make_tf_models.py OUT_DIR
writes OUT_DIR/<name>/1/ (SavedModel or model.tflite) and OUT_DIR/<name>.npz holding
in_<key> inputs and out_<key> TensorFlow outputs, keyed by the serving signature's names.
"""

import pathlib
import sys

import numpy as np
import tensorflow as tf


def export(model: tf.keras.Model, out: pathlib.Path, name: str, inputs: dict) -> pathlib.Path:
    path = out / name / "1"
    model.export(str(path), verbose=False)
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    outputs = signature(**{k: tf.constant(v) for k, v in inputs.items()})
    np.savez(
        out / f"{name}.npz",
        **{f"in_{k}": v for k, v in inputs.items()},
        **{f"out_{k}": v.numpy() for k, v in outputs.items()},
    )
    return path


def tflite(saved_model: pathlib.Path, out: pathlib.Path, name: str, inputs: dict) -> None:
    target = out / name / "1" / "model.tflite"
    target.parent.mkdir(parents=True)
    target.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved_model)).convert())
    runner = tf.lite.Interpreter(model_path=str(target)).get_signature_runner("serving_default")
    outputs = runner(**inputs)
    np.savez(
        out / f"{name}.npz", **{f"in_{k}": v for k, v in inputs.items()}, **{f"out_{k}": v for k, v in outputs.items()}
    )


def randomize_batch_norm(model: tf.keras.Model, rng: np.random.Generator) -> None:
    """Fresh batch-norm statistics make MobileNetV2's logits vanish (about 1e-11), which would
    make any comparison pass; random statistics give outputs of ordinary scale."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                    rng.normal(0, 0.1, beta.shape).astype(np.float32),
                    rng.normal(0, 0.1, mean.shape).astype(np.float32),
                    rng.uniform(0.5, 1.5, variance.shape).astype(np.float32),
                ]
            )


def main(out: pathlib.Path) -> None:
    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    image = tf.keras.Input((224, 224, 3), name="image")
    backbone = tf.keras.applications.MobileNetV2(weights=None, input_tensor=image, classifier_activation=None)
    randomize_batch_norm(backbone, rng)
    mobilenet = tf.keras.Model(image, backbone.output)
    export(mobilenet, out, "mobilenet", {"image": rng.random((2, 224, 224, 3), dtype=np.float32)})

    tokens = tf.keras.Input((16,), dtype="int32", name="tokens")
    embedded = tf.keras.layers.Embedding(1000, 32)(tokens)
    pooled = tf.keras.layers.GlobalAveragePooling1D()(embedded)
    text = tf.keras.Model(tokens, tf.keras.layers.Dense(2, activation="softmax", name="sentiment")(pooled))
    export(text, out, "text", {"tokens": rng.integers(0, 1000, (3, 16)).astype(np.int32)})

    features = tf.keras.Input((8,), name="features")
    hidden = tf.keras.layers.Dense(16, activation="relu")(features)
    dense = tf.keras.Model(features, tf.keras.layers.Dense(3, name="scores")(hidden))
    saved = export(dense, out, "dense", {"features": rng.random((1, 8), dtype=np.float32)})
    tflite(saved, out, "dense_tflite", {"features": rng.random((1, 8), dtype=np.float32)})


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
