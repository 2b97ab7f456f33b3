# Two images from one install (podman/docker build --target NAME):
#   sagemaker (the default, last stage): `serve` answers /ping and /invocations on 8080
#     (SAGEMAKER_BIND_TO_PORT) and TF Serving gRPC on 9000; models come from /opt/ml/model.
#   tfserving: tensorflow/serving's image contract: tensorflow_model_server on 8500 (gRPC) and
#     8501 (REST) for ${MODEL_BASE_PATH}/${MODEL_NAME} (/models/model), extra arguments passed on.
# No TensorFlow inside either. docs/container_image.md describes both.

# --- install: the server and its pinned runtime dependencies in /opt/venv, shared by both targets
FROM python:3.11-slim AS install

# Root by default: SageMaker's documentation expects every container to run as root (other users
# "can cause permissions issues": /opt/ml is SageMaker's, and a model file only its owner may read
# is readable by root alone), and AWS's own containers do, as does tensorflow/serving's image.
# --build-arg RUN_AS=serve builds a non-root image instead (user serve, uid 1000, owning /opt/venv
# so code/requirements.txt installs), for either target.
ARG RUN_AS=root
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH

COPY pyproject.toml README.md constraints.txt /opt/ie_serving/
COPY ie_serving /opt/ie_serving/ie_serving
COPY serve /opt/ie_serving/serve
COPY container /opt/ie_serving/container
RUN python -m venv /opt/venv \
    && PYTHON=/opt/venv/bin/python /opt/ie_serving/container/install.sh /opt/ie_serving \
    && if [ "$RUN_AS" != root ]; then useradd --create-home --uid 1000 "$RUN_AS" \
       && chown -R "$RUN_AS" /opt/venv; fi

# --- tfserving: `docker run -p 8500:8500 -p 8501:8501 -v $PWD/models/m:/models/m -e MODEL_NAME=m IMAGE`
FROM install AS tfserving
ARG RUN_AS=root
# tensorflow_model_server (the package's console script) also where TF Serving's image has it,
# /usr/bin, for `--entrypoint tensorflow_model_server` and scripts that name the path
RUN ln -s /opt/venv/bin/tensorflow_model_server /usr/bin/tensorflow_model_server \
    && cp /opt/ie_serving/container/tf_serving_entrypoint.sh /usr/bin/tf_serving_entrypoint.sh \
    && mkdir -p /models
# gRPC, REST
EXPOSE 8500
EXPOSE 8501
# Set where models should be stored in the container
ENV MODEL_BASE_PATH=/models
# The only required piece is the model name in order to differentiate endpoints
ENV MODEL_NAME=model
USER $RUN_AS
ENTRYPOINT ["/usr/bin/tf_serving_entrypoint.sh"]

# --- sagemaker, the default target (the last stage)
FROM install AS sagemaker
ARG RUN_AS=root
LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true
LABEL com.amazonaws.sagemaker.capabilities.multi-models=true
USER $RUN_AS
EXPOSE 8080
# exec form: `serve` is PID 1 and receives SageMaker's SIGTERM; `docker run IMAGE serve` works too
ENTRYPOINT ["serve"]
