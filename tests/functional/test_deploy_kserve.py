"""deploy/kserve against KServe's own API types: every field of the ClusterServingRuntime and
the InferenceService, recursively, must be one KServe's Python SDK declares for that type
(kserve.models, with the Kubernetes types from kubernetes.client.models), checked in the
KServe environment (tests/kserve_sdk/check_manifests.py). tests/unit/test_deploy_kserve.py
checks the same manifests against the Kubernetes schemas and the server's own CLI; the last
test runs the runtime's container command against a real model, probed as the kubelet does."""

from __future__ import annotations

import json
import pathlib
import subprocess

import numpy as np
import requests
import yaml

from tests import models
from tests.docs_helpers import REPO
from tests.framework_envs import KSERVE_PYTHON, run_kserve
from tests.rest_helpers import RestServer

KSERVE = REPO / "deploy" / "kserve"


def test_every_field_is_one_kserve_declares():
    result = run_kserve("check_manifests.py", str(KSERVE))
    assert result.stdout.strip() == "3 documents: every field is KServe's"


def test_a_misspelt_field_is_caught(tmp_path):
    text = (KSERVE / "clusterservingruntime.yaml").read_text()
    (tmp_path / "runtime.yaml").write_text(text.replace("protocolVersions:", "protocolVersion:"))
    result = subprocess.run(
        [KSERVE_PYTHON, str(REPO / "tests" / "kserve_sdk" / "check_manifests.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "spec.protocolVersion: not a field of V1alpha1ServingRuntimeSpec" in result.stdout


def test_the_runtimes_container_serves_what_kserve_mounts_and_probes(tmp_path):
    """The ClusterServingRuntime's own command line (`{{.Name}}` filled as KServe fills it, its
    /mnt/models pointed at a directory laid out as storageUri's download: version directories;
    the test harness adds free ports after its 9000/8080, the last flag winning): the
    readiness probe's GET answers 200 once the model is AVAILABLE, and KServe's own clients
    (InferenceRESTClient with protocol v2, InferenceGRPCClient) infer OpenVINO's answer."""
    container = yaml.safe_load((KSERVE / "clusterservingruntime.yaml").read_text())["spec"]["containers"][0]
    mounted = tmp_path / "mnt" / "models"
    models.save(models.scale_model(2.0), mounted, 1)
    args = [arg.replace("{{.Name}}", "demo").replace("/mnt/models", str(mounted)) for arg in container["args"]]
    assert container["command"] == ["ie_serving"]
    server = RestServer(args, tmp_path / "server.log").wait_ready()
    try:
        probe = container["readinessProbe"]["httpGet"]
        answer = requests.get(f"{server.url}{probe['path']}", timeout=probe.get("timeoutSeconds", 1))
        assert answer.status_code == 200 and answer.json() == {"ready": True}
        x = np.arange(8, dtype=np.float32).reshape(2, 4)
        np.savez(tmp_path / "inputs.npz", x=x)
        inputs, results_path = str(tmp_path / "inputs.npz"), str(tmp_path / "r.json")
        run_kserve("v2_kserve.py", server.url, server.address, "demo", inputs, results_path)
        results = json.loads(pathlib.Path(results_path).read_text())
        assert results["ready"] == {"rest": [True, True], "grpc": [True, True]}
        expected = models.direct_infer(mounted / "1" / "model.xml", {"x": x})["y"]
        assert sorted(results["outputs"]) == ["grpc", "rest-binary", "rest-json"]
        for transport, outputs in results["outputs"].items():
            np.testing.assert_array_equal(np.load(outputs["y"]), expected, err_msg=transport)
    finally:
        assert server.stop() == 0
