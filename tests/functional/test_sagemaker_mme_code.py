"""Custom code on multi-model endpoints, as AWS's later TF Serving container runs it
(aws/deep-learning-containers, tensorflow/inference/docker/build_artifacts/sagemaker/python_service.py:
_import_custom_modules, _handle_invocation_post): a model's own code/inference.py wins, else the
universal SAGEMAKER_MULTI_MODEL_DIR/code/inference.py, else the default handling. And a
`handler` that calls context.rest_uri cannot exhaust the threads its own requests hold."""

from __future__ import annotations

import concurrent.futures
import pathlib
import textwrap

import numpy as np
import pytest
import requests

from tests import models
from tests.sagemaker_helpers import ServeProcess, json_body


def _code(directory: pathlib.Path, script: str) -> None:
    (directory / "code").mkdir(parents=True)
    (directory / "code" / "inference.py").write_text(textwrap.dedent(script))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("mme_code") / "models"
    models.save(models.scale_model(2.0), root / "plain", 1)
    models.save(models.scale_model(3.0), root / "own", 1)
    _code(
        root,
        """
        import json

        def output_handler(response, context):
            return json.dumps({"by": "universal", "answer": response.json()}), "application/json"
        """,
    )
    _code(
        root / "own",
        """
        import json

        def output_handler(response, context):
            return json.dumps({"by": "own", "answer": response.json()}), "application/json"
        """,
    )
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MULTI_MODEL_DIR": str(root)}
    process = ServeProcess(root / "unused", root.parent / "serve.log", env).wait_ready()
    for name in ("plain", "own"):
        loaded = requests.post(f"{process.url}/models", json={"model_name": name, "url": name}, timeout=60)
        assert loaded.status_code == 200, loaded.text
    yield process
    assert process.stop() == 0


def test_a_models_own_code_wins_and_the_universal_code_serves_the_rest(server: ServeProcess) -> None:
    x = [[1.0, 2.0, 3.0, 4.0]]
    own = requests.post(f"{server.url}/models/own/invoke", data=json_body(x), timeout=30).json()
    plain = requests.post(f"{server.url}/models/plain/invoke", data=json_body(x), timeout=30).json()
    assert own == {"by": "own", "answer": {"predictions": (np.array(x) * 3).tolist()}}
    assert plain == {"by": "universal", "answer": {"predictions": (np.array(x) * 2).tolist()}}


def test_a_handler_calling_rest_uri_does_not_deadlock_the_threads(tmp_path: pathlib.Path) -> None:
    """Two request threads, six concurrent /invocations whose handler each makes a REST predict
    on context.rest_uri: with one shared pool every thread would wait for an inner request
    queued behind it."""
    models.save(models.scale_model(2.0), tmp_path / "model", 1)
    _code(
        tmp_path / "model",
        """
        import requests

        def handler(data, context):
            inner = requests.post(context.rest_uri, data=data.read(), timeout=20)
            return inner.content, "application/json"
        """,
    )
    env = {"SAGEMAKER_GUNICORN_THREADS": "2"}
    server = ServeProcess(tmp_path / "model", tmp_path / "serve.log", env).wait_ready()
    try:
        body = json_body({"instances": [[1.0, 2.0, 3.0, 4.0]]})
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(
                pool.map(lambda _: requests.post(f"{server.url}/invocations", data=body, timeout=30), range(6))
            )
        assert [a.status_code for a in answers] == [200] * 6
        assert all(a.json() == {"predictions": [[2.0, 4.0, 6.0, 8.0]]} for a in answers)
    finally:
        assert server.stop() == 0
