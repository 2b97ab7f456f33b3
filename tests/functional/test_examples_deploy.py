"""The Kubernetes readiness probes of deploy/kubernetes, run as written (their config path and
port pointed at a live server): ready when every model has an AVAILABLE version, not ready
when one model has none."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import yaml

from ie_serving.demo import build_demo_model
from tests.docs_helpers import DEPLOY
from tests.models import save
from tests.rest_helpers import RestServer, write_config


def probe_script(manifest: str) -> str:
    document = yaml.safe_load((DEPLOY / manifest).read_text())
    spec = document["spec"]
    pod = spec["predictor"] if document["kind"] == "InferenceService" else spec["template"]["spec"]
    command = pod["containers"][0]["readinessProbe"]["exec"]["command"]
    assert command[:2] == ["python", "-c"]
    return command[2]


def run_probe(script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)


def test_readiness_probes_follow_model_states(tmp_path: pathlib.Path) -> None:
    save(build_demo_model(), tmp_path / "demo")
    (tmp_path / "broken" / "1").mkdir(parents=True)
    (tmp_path / "broken" / "1" / "model.xml").write_text("not an IR")
    (tmp_path / "broken" / "1" / "model.bin").write_bytes(b"\0")
    demo = {"name": "demo", "base_path": str(tmp_path / "demo")}
    broken = {"name": "broken", "base_path": str(tmp_path / "broken")}
    both = write_config(tmp_path / "both.json", [demo, broken])
    only_demo = write_config(tmp_path / "demo.json", [demo])
    server = RestServer(["config", "--config_path", str(both)], tmp_path / "server.log").wait_ready()
    try:
        deployment = probe_script("deployment.yaml").replace("127.0.0.1:8501", f"127.0.0.1:{server.rest_port}")
        ready = run_probe(deployment.replace("/config/config.json", str(only_demo)))
        assert ready.returncode == 0, ready.stderr
        not_ready = run_probe(deployment.replace("/config/config.json", str(both)))
        assert not_ready.returncode == 1
        assert "model broken: no AVAILABLE version (['END'])" in not_ready.stderr
        kserve = probe_script("inferenceservice.yaml").replace("127.0.0.1:8080", f"127.0.0.1:{server.rest_port}")
        assert run_probe(kserve).returncode == 0
        assert run_probe(kserve.replace("/v1/models/demo", "/v1/models/broken")).returncode == 1
    finally:
        server.stop()
    stopped = run_probe(deployment.replace("/config/config.json", str(only_demo)))
    assert stopped.returncode == 1  # no server: not ready
