"""The naive baseline: json-load, OpenVINO, json-dump. usage: python naive_flask.py MODEL_XML PORT"""

import json
import sys

import numpy as np
import openvino as ov
from flask import Flask, Response, request

PROPERTIES = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32"}  # as the server's
compiled = ov.Core().compile_model(sys.argv[1], "CPU", PROPERTIES)
app = Flask(__name__)


@app.post("/predict")
def predict() -> Response:
    instances = np.array(json.loads(request.get_data())["instances"], dtype=np.float32)
    result = compiled.create_infer_request().infer({0: instances})
    answer = {"predictions": next(iter(result.values())).tolist()}
    return Response(json.dumps(answer), mimetype="application/json")


@app.get("/ping")
def ping() -> str:
    return "ok"


if __name__ == "__main__":
    app.run("127.0.0.1", int(sys.argv[2]), threaded=True)
