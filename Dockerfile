# SageMaker serving image: `serve` answers /ping and /invocations on 8080 (SAGEMAKER_BIND_TO_PORT)
# and TF Serving gRPC on 9000; models come from /opt/ml/model. No TensorFlow inside.
FROM python:3.11-slim

LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true
LABEL com.amazonaws.sagemaker.capabilities.multi-models=true

# Root by default: SageMaker's documentation expects every container to run as root (other users
# "can cause permissions issues": /opt/ml is SageMaker's, and a model file only its owner may read
# is readable by root alone), and AWS's own containers do. --build-arg RUN_AS=serve builds a
# non-root image instead (user serve, uid 1000, owning /opt/venv so code/requirements.txt installs).
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

USER $RUN_AS
EXPOSE 8080
# exec form: `serve` is PID 1 and receives SageMaker's SIGTERM; `docker run IMAGE serve` works too
ENTRYPOINT ["serve"]
