"""The Kubernetes readiness probes of deploy/kubernetes, made as the kubelet makes an httpGet
probe (a GET on the path; 200-399 is ready) against live servers: ready when every model has
an AVAILABLE version, not ready while one model has none, and not ready with no server."""

from __future__ import annotations

import pathlib

import requests
import yaml

from ie_serving.demo import build_demo_model
from tests.docs_helpers import DEPLOY
from tests.models import save
from tests.rest_helpers import RestServer, write_config


def probe_path(manifest: str) -> str:
    document = yaml.safe_load((DEPLOY / manifest).read_text())
    spec = document["spec"]
    pod = spec["predictor"] if document["kind"] == "InferenceService" else spec["template"]["spec"]
    return pod["containers"][0]["readinessProbe"]["httpGet"]["path"]


def probe(port: int, path: str) -> bool:
    """The kubelet's verdict: an answer with a status in [200, 400) within the timeout."""
    try:
        return 200 <= requests.get(f"http://127.0.0.1:{port}{path}", timeout=5, allow_redirects=False).status_code < 400
    except requests.ConnectionError:
        return False


def test_readiness_probes_follow_model_states(tmp_path: pathlib.Path) -> None:
    save(build_demo_model(), tmp_path / "demo")
    (tmp_path / "broken" / "1").mkdir(parents=True)
    (tmp_path / "broken" / "1" / "model.xml").write_text("not an IR")
    (tmp_path / "broken" / "1" / "model.bin").write_bytes(b"\0")
    demo = {"name": "demo", "base_path": str(tmp_path / "demo")}
    broken = {"name": "broken", "base_path": str(tmp_path / "broken")}
    paths = {probe_path("deployment.yaml"), probe_path("inferenceservice.yaml")}
    assert paths == {"/v2/health/ready"}
    (path,) = paths
    server = RestServer(
        ["config", "--config_path", str(write_config(tmp_path / "both.json", [demo, broken]))], tmp_path / "both.log"
    ).wait_ready()
    try:
        assert not probe(server.rest_port, path)
        answer = requests.get(f"http://127.0.0.1:{server.rest_port}{path}", timeout=5)
        assert answer.status_code == 503 and "['broken']" in answer.json()["error"]
    finally:
        server.stop()
    assert not probe(server.rest_port, path)  # no server: not ready
    server = RestServer(
        ["config", "--config_path", str(write_config(tmp_path / "demo.json", [demo]))], tmp_path / "demo.log"
    ).wait_ready()
    try:
        assert probe(server.rest_port, path)
    finally:
        server.stop()
