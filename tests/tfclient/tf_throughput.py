"""Runs in the TensorFlow environment: TensorFlow's own in-process throughput on a SavedModel's
serving signature with 1, 2 and 4 calling threads (the ceiling TF Serving could reach here).

usage: tf_throughput.py SAVED_MODEL_DIR INPUT_NPZ SECONDS   -> JSON {"1": inf/s, "2": ..., "4": ...}
"""

import json
import sys
import threading
import time

import numpy as np
import tensorflow as tf


def _loop(signature, inputs: dict, end: float, counts: list, index: int) -> None:
    while time.perf_counter() < end:
        signature(**inputs)
        counts[index] += 1


def main(path: str, input_path: str, seconds: float) -> None:
    signature = tf.saved_model.load(path).signatures["serving_default"]
    with np.load(input_path) as data:
        inputs = {k: tf.constant(data[k]) for k in data.files}
    batch = next(iter(inputs.values())).shape[0]
    signature(**inputs)  # warm-up
    results = {}
    for callers in (1, 2, 4):
        counts = [0] * callers
        end = time.perf_counter() + seconds
        threads = [threading.Thread(target=_loop, args=(signature, inputs, end, counts, i)) for i in range(callers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results[str(callers)] = sum(counts) * batch / (time.perf_counter() - started)
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
