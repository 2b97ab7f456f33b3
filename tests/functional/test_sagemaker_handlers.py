"""Custom pre/post-processing in SM_MODEL_DIR/code/inference.py, as AWS's TF Serving container
runs it: input_handler, output_handler, a single handler, a failing handler, code/lib on the
path and code/requirements.txt installed from a local wheel directory at start-up."""

from __future__ import annotations

import pathlib
import site
import subprocess
import sys
import textwrap
import zipfile

import pytest

from tests import models
from tests.sagemaker_helpers import ServeProcess, json_body

REPO = pathlib.Path(__file__).resolve().parents[2]


def _model_dir(root: pathlib.Path, inference: str) -> pathlib.Path:
    models.save(models.scale_model(2.0), root / "model", 1)
    code = root / "model" / "code"
    code.mkdir()
    (code / "inference.py").write_text(textwrap.dedent(inference))
    return root / "model"


@pytest.fixture
def serve(tmp_path: pathlib.Path):
    started: list[ServeProcess] = []

    def start(model_dir: pathlib.Path, env: dict[str, str] | None = None) -> ServeProcess:
        server = ServeProcess(model_dir, tmp_path / f"serve{len(started)}.log", env)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        assert server.stop() == 0


def test_input_handler_with_code_lib(tmp_path: pathlib.Path, serve) -> None:
    model_dir = _model_dir(
        tmp_path,
        """
        import json
        from words import numbers  # from code/lib

        def input_handler(data, context):
            assert context.request_content_type == "text/plain"
            return json.dumps({"instances": [numbers(data.read().decode())]})
        """,
    )
    (model_dir / "code" / "lib").mkdir()
    (model_dir / "code" / "lib" / "words.py").write_text(
        "def numbers(text):\n    return [float(w) for w in text.split()]\n"
    )
    server = serve(model_dir)
    response = server.invoke(b"1 2 3 4", "text/plain")
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [[2.0, 4.0, 6.0, 8.0]]}


def test_output_handler_sees_the_answer_and_the_context(tmp_path: pathlib.Path, serve) -> None:
    server = serve(
        _model_dir(
            tmp_path,
            """
            def output_handler(response, context):
                assert response.status_code == 200, response.text
                total = sum(sum(row) for row in response.json()["predictions"])
                fields = (context.model_name, context.model_version, context.method, context.accept_header,
                          context.custom_attributes, context.request_content_type, context.content_length,
                          context.rest_uri.rsplit("/", 1)[-1], context.grpc_port > 0)
                return f"{total} {fields}", "text/plain"
            """,
        )
    )
    body = b"1,2,3,4"
    response = server.invoke(body, "text/csv", accept="text/plain", attributes="tfs-model-version=1,extra=1")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == (
        f"20.0 ('model', '1', 'predict', 'text/plain', 'tfs-model-version=1,extra=1', 'text/csv', {len(body)}, "
        "'1:predict', True)"
    )


def test_single_handler_calls_the_rest_uri(tmp_path: pathlib.Path, serve) -> None:
    server = serve(
        _model_dir(
            tmp_path,
            """
            import requests

            def handler(data, context):
                answer = requests.post(context.rest_uri, data=data.read(), timeout=10)
                return answer.content, "application/json"
            """,
        )
    )
    response = server.invoke(json_body({"instances": [[1, 1, 1, 1]]}), "application/json")
    assert response.json() == {"predictions": [[2.0, 2.0, 2.0, 2.0]]}


def test_failing_handler_is_a_500_with_its_message_and_a_logged_traceback(tmp_path: pathlib.Path, serve) -> None:
    server = serve(
        _model_dir(
            tmp_path,
            """
            def input_handler(data, context):
                raise ValueError("cannot read this payload")
            """,
        )
    )
    response = server.invoke(b"[1]", "application/json")
    assert response.status_code == 500
    assert response.json() == {"error": "ValueError: cannot read this payload"}
    assert "Traceback" in server.log() and 'raise ValueError("cannot read this payload")' in server.log()


def _tiny_wheel(directory: pathlib.Path) -> None:
    """A pure-Python wheel `tinydep-sm 0.1` with the module tinydep_sm (ANSWER = 42)."""
    directory.mkdir()
    info = "tinydep_sm-0.1.dist-info"
    files = {
        "tinydep_sm.py": "ANSWER = 42\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: tinydep-sm\nVersion: 0.1\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(directory / "tinydep_sm-0.1-py3-none-any.whl", "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)


def test_requirements_are_installed_at_start_up(tmp_path: pathlib.Path, serve) -> None:
    """In a fresh venv that sees the project's packages through a .pth file, so the install
    lands in that venv, not in the shared test environment."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    purelib = subprocess.run(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    pathlib.Path(purelib, "project.pth").write_text(f"{REPO}\n" + "\n".join(site.getsitepackages()) + "\n")
    _tiny_wheel(tmp_path / "wheels")
    model_dir = _model_dir(
        tmp_path,
        """
        import json
        import tinydep_sm

        def output_handler(response, context):
            answer = {"answer": tinydep_sm.ANSWER, "predictions": response.json()["predictions"]}
            return json.dumps(answer), "application/json"
        """,
    )
    (model_dir / "code" / "requirements.txt").write_text(
        f"--no-index\n--find-links {tmp_path / 'wheels'}\ntinydep-sm==0.1\n"
    )
    server = serve(model_dir, {"SERVE_PYTHON": str(venv / "bin" / "python")})
    response = server.invoke(json_body([[1, 2, 3, 4]]), "application/json")
    assert response.json() == {"answer": 42, "predictions": [[2.0, 4.0, 6.0, 8.0]]}
    assert "installed" in server.log()


def test_handler_wins_over_input_and_output_handlers(tmp_path: pathlib.Path, serve) -> None:
    """AWS's python_service.py _import_handlers: `handler` when the script defines it."""
    server = serve(
        _model_dir(
            tmp_path,
            """
            def handler(data, context):
                return b'{"from": "handler"}', "application/json"

            def input_handler(data, context):
                raise AssertionError("input_handler must not run")

            def output_handler(response, context):
                raise AssertionError("output_handler must not run")
            """,
        )
    )
    assert server.invoke(b"[[1, 2, 3, 4]]", "application/json").json() == {"from": "handler"}
    assert "handler is used" in server.log()


def test_code_lib_wins_over_requirements(tmp_path: pathlib.Path, serve) -> None:
    """AWS's serve.py: with code/lib present, code/requirements.txt is not installed (here it
    names a package no index has, so installing it would stop the start-up)."""
    model_dir = _model_dir(
        tmp_path,
        """
        import json
        from words import double

        def output_handler(response, context):
            return json.dumps({"doubled": double(response.json()["predictions"][0][0])}), "application/json"
        """,
    )
    (model_dir / "code" / "lib").mkdir()
    (model_dir / "code" / "lib" / "words.py").write_text("def double(x):\n    return 2 * x\n")
    (model_dir / "code" / "requirements.txt").write_text("--no-index\nno-such-package-anywhere==1.0\n")
    server = serve(model_dir)
    assert server.invoke(b"[[1, 2, 3, 4]]", "application/json").json() == {"doubled": 4.0}
    assert "ignoring" in server.log() and "requirements.txt" in server.log()
