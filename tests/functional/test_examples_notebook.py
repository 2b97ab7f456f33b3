"""example_client/rest_client.ipynb executed headless (nbclient) against a live server with
the demo model: every cell runs, the plot is drawn, the classes match OpenVINO's result."""

from __future__ import annotations

import pathlib

import nbclient
import nbformat
import numpy as np

from ie_serving.demo import build_demo_model
from tests.example_helpers import EXAMPLES
from tests.models import direct_infer, save
from tests.rest_helpers import RestServer


def test_notebook_runs_against_a_live_server(tmp_path: pathlib.Path, monkeypatch) -> None:
    save(build_demo_model(), tmp_path / "demo")
    server = RestServer(["model", "--model_name", "demo", "--model_path", str(tmp_path / "demo")], tmp_path / "log")
    server.wait_ready()
    try:
        monkeypatch.setenv("IE_SERVING_REST_URL", server.url)
        monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        notebook = nbformat.read(EXAMPLES / "rest_client.ipynb", as_version=4)
        nbclient.NotebookClient(
            notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
        ).execute()
    finally:
        server.stop()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "version 1: AVAILABLE (OK)" in text
    assert "input input: DT_FLOAT [-1, 3, 224, 224]" in text and "output probabilities: DT_FLOAT [-1, 10]" in text
    batch = np.random.default_rng(0).random((4, 3, 224, 224), dtype=np.float32)
    expected = direct_infer(tmp_path / "demo" / "1" / "model.xml", {"input": batch})["probabilities"].argmax(axis=1)
    assert f"top-1 classes: {expected.tolist()}" in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "the plot cell drew no figure"
