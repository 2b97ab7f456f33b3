#!/usr/bin/env bash
# Serve local_test/test_dir as SageMaker would: /ping and /invocations on port 8080.
#   local_test/serve_local.sh [--no-docker] [IMAGE]
# test_dir holds only the model (version 1: x float32 [-1, 4] -> y = 2x + 1); send it the
# sample bodies in local_test/payloads/ with local_test/predict.sh local_test/payloads/payload.json.
# With Docker: runs IMAGE (default ie-serving:latest) with test_dir mounted at /opt/ml/model.
# --no-docker: runs the `serve` script directly (from PATH, else the project's .venv) with
# SM_MODEL_DIR=local_test/test_dir; SAGEMAKER_BIND_TO_PORT and SAGEMAKER_GRPC_PORT pick the ports.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
no_docker=false
image=ie-serving:latest
for arg in "$@"; do
    case "$arg" in
        --no-docker) no_docker=true ;;
        *) image=$arg ;;
    esac
done
port=${SAGEMAKER_BIND_TO_PORT:-8080}
if $no_docker; then
    serve=$(command -v serve || echo "$here/../.venv/bin/serve")
    SM_MODEL_DIR="$here/test_dir" exec "$serve"
fi
exec docker run --rm -p "$port:8080" -v "$here/test_dir:/opt/ml/model:ro" "$image" serve
