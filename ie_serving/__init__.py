"""OpenVINO model server speaking the TensorFlow Serving API."""

__version__ = "0.1.0"
