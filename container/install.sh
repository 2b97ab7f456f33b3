#!/bin/sh
# Every install step of the image, in one script: the Dockerfile runs it, and so does the test
# suite in a fresh virtual environment (tests/functional/test_sagemaker_container.py).
#   container/install.sh [PROJECT_DIR]      PYTHON=/path/to/python (default: python3)
set -eu
project=${1:-$(dirname "$0")/..}
python=${PYTHON:-python3}
"$python" -m pip install --disable-pip-version-check --no-input --upgrade pip
"$python" -m pip install --disable-pip-version-check --no-input -c "$project/constraints.txt" "$project"
# the image serves without TensorFlow: fail the build if a dependency ever pulls it in
"$python" -c "import importlib.util, sys; sys.exit('tensorflow is installed' if importlib.util.find_spec('tensorflow') else 0)"
"$python" -c "import serve.main, openvino; print('ie_serving installed, OpenVINO', openvino.__version__)"
for script in serve tensorflow_model_server; do
    command -v "$(dirname "$python")/$script" >/dev/null || { echo "the $script script is missing" >&2; exit 1; }
done
