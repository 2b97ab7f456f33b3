"""deploy/kubernetes offline: every manifest against the Kubernetes schemas that
kubernetes-validate bundles (no cluster, no network), and against the server itself: CLI
arguments, ports, probe paths, config file and environment names."""

from __future__ import annotations

import json
import pathlib

import kubernetes_validate
import pytest
import yaml

from ie_serving.cli import build_parser
from ie_serving.config import load_config_file
from ie_serving.rest_api import create_app
from ie_serving.service import Service
from ie_serving.store import ModelStore
from tests.docs_helpers import DEPLOY, code, table

MANIFESTS = sorted(DEPLOY.glob("*.yaml"))
KSERVE_ONLY = ("minReplicas", "maxReplicas", "scaleMetric", "scaleTarget", "containerConcurrency", "timeout")


def documents() -> dict[str, dict]:
    found = {}
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            found[document["kind"]] = document
    return found


def container(kind: str) -> dict:
    spec = documents()[kind]["spec"]
    pod = spec["predictor"] if kind == "InferenceService" else spec["template"]["spec"]
    (only,) = pod["containers"]
    return only


def server_args(kind: str):
    entry = container(kind)
    assert entry["command"] == ["ie_serving"]
    return build_parser().parse_args(entry["args"])


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: pathlib.Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        if document["kind"] == "InferenceService":
            assert document["apiVersion"] == "serving.kserve.io/v1beta1"
            # the predictor is a PodSpec plus KServe's scaling fields: check the PodSpec part
            pod_spec = {k: v for k, v in document["spec"]["predictor"].items() if k not in KSERVE_ONLY}
            document = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "predictor"}, "spec": pod_spec}
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_a_broken_manifest_is_refused() -> None:
    deployment = documents()["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "nine thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("kind", ["Deployment", "InferenceService"])
def test_ports_and_probes_match_what_the_server_serves(kind: str) -> None:
    args = server_args(kind)
    entry = container(kind)
    declared = {p["containerPort"] for p in entry["ports"]}
    assert args.rest_port in declared
    if kind == "Deployment":
        assert declared == {args.port, args.rest_port}
        names = {p["name"]: p["containerPort"] for p in entry["ports"]}
        assert names == {"grpc": args.port, "http": args.rest_port}
        for probe in ("startupProbe", "livenessProbe"):
            assert names[entry[probe]["tcpSocket"]["port"]] == args.port  # gRPC opens after the first load
    probe = entry["readinessProbe"]["httpGet"]
    port = names[probe["port"]] if kind == "Deployment" else probe["port"]
    assert port == args.rest_port
    # the path is the v2 server-ready route of the REST app the server runs on that port
    routes = create_app(Service(ModelStore()), None).url_map.bind("localhost")
    assert probe["path"] == "/v2/health/ready"
    assert routes.match(probe["path"], method="GET")[0] == "v2.ready"


def test_service_and_hpa_point_at_the_deployment() -> None:
    docs = documents()
    pod_labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert docs["Service"]["spec"]["selector"].items() <= pod_labels.items()
    port_names = {p["name"]: p["containerPort"] for p in container("Deployment")["ports"]}
    for port in docs["Service"]["spec"]["ports"]:
        assert port_names[port["targetPort"]] == port["port"]
    target = docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", docs["Deployment"]["metadata"]["name"])
    assert container("Deployment")["resources"]["requests"]["cpu"]  # utilisation needs a CPU request


def test_config_map_is_a_valid_config_for_the_mounted_paths(tmp_path: pathlib.Path) -> None:
    args = server_args("Deployment")
    mounts = {m["name"]: m["mountPath"] for m in container("Deployment")["volumeMounts"]}
    volumes = {v["name"]: v for v in documents()["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    config_mount = mounts[next(n for n, v in volumes.items() if "configMap" in v)]
    key = pathlib.PurePosixPath(args.config_path).relative_to(config_mount).as_posix()
    config_map = documents()["ConfigMap"]
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]
    (tmp_path / "config.json").write_text(config_map["data"][key])
    for model in load_config_file(str(tmp_path / "config.json")):
        assert model.base_path.startswith((mounts["models"] + "/", "s3://", "gs://"))
    assert str(args.model_cache_dir) == mounts["cache"]
    json.loads(config_map["data"][key])


def test_environment_names_are_ones_the_server_documents() -> None:
    documented = {code(row[0]) for row in table("Environment variables")}
    env = {e["name"]: e for e in container("Deployment")["env"]}
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "S3_ENDPOINT"} <= set(env)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in env
    assert set(env) <= documented
    secret = documents()["Secret"]
    for entry in env.values():
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    key_path = pathlib.PurePosixPath(env["GOOGLE_APPLICATION_CREDENTIALS"]["value"])
    mounts = {m["name"]: m["mountPath"] for m in container("Deployment")["volumeMounts"]}
    assert str(key_path.parent) == mounts["gcs-key"] and key_path.name in secret["stringData"]
