"""deploy/kserve against KServe's own API types: every field of the ClusterServingRuntime and
the InferenceService, recursively, must be one KServe's Python SDK declares for that type
(kserve.models, with the Kubernetes types from kubernetes.client.models), checked in the
KServe environment (tests/kserve_sdk/check_manifests.py). tests/unit/test_deploy_kserve.py
checks the same manifests against the Kubernetes schemas and the server's own CLI."""

from __future__ import annotations

import subprocess

from tests.docs_helpers import REPO
from tests.framework_envs import KSERVE_PYTHON, run_kserve

KSERVE = REPO / "deploy" / "kserve"


def test_every_field_is_one_kserve_declares():
    result = run_kserve("check_manifests.py", str(KSERVE))
    assert result.stdout.strip() == "2 documents: every field is KServe's"


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
