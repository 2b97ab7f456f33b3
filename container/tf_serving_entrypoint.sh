#!/bin/bash
# tensorflow/serving's entrypoint (tensorflow_serving/tools/docker/Dockerfile writes the same
# script to the same path): the gRPC port 8500, REST 8501, the model ${MODEL_NAME} (default
# model) at ${MODEL_BASE_PATH}/${MODEL_NAME} (default /models/model), then the arguments of
# `docker run IMAGE ...` passed through, so a later --port=, --rest_api_port= or any other flag
# wins. One difference, on purpose: `exec`, so the server is PID 1 and `docker stop`'s SIGTERM
# reaches it (TF Serving's bash stays PID 1 and ignores SIGTERM until the 10 s SIGKILL).
exec tensorflow_model_server --port=8500 --rest_api_port=8501 \
    --model_name="${MODEL_NAME}" --model_base_path="${MODEL_BASE_PATH}/${MODEL_NAME}" \
    "$@"
