"""The SageMaker serving container: the `serve` entrypoint, /ping, /invocations and custom
pre/post-processing code, hosted by the same gunicorn code and ModelStore as `ie_serving`."""
