"""deploy/kserve offline, as tests/unit/test_deploy_kubernetes.py checks deploy/kubernetes: the
runtime's container and the InferenceService's model against the Kubernetes schemas that
kubernetes-validate bundles (strict: unknown fields are errors; KServe's own fields are
checked by name against KServe's Python SDK models in tests/functional/test_deploy_kserve.py),
the container's arguments with the server's own parser, its ports and probe path against what
the server serves, and the runtime's contract as KServe's own runtimes declare it
(kserve/kserve config/runtimes/kserve-tensorflow-serving.yaml, kserve-ovms.yaml,
kserve-tritonserver.yaml: model at /mnt/models, HTTP on 8080, gRPC on 9000, {{.Name}})."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
import yaml

from ie_serving.cli import build_parser
from ie_serving.rest_api import create_app
from ie_serving.service import Service
from ie_serving.store import ModelStore
from tests.docs_helpers import REPO

KSERVE = REPO / "deploy" / "kserve"
KSERVE_MODEL_FIELDS = ("modelFormat", "protocolVersion", "runtime", "runtimeVersion", "storageUri")
KSERVE_SCALING_FIELDS = ("minReplicas", "maxReplicas", "scaleMetric", "scaleTarget", "containerConcurrency", "timeout")


def documents(kind: str) -> list[dict]:
    everything = [d for path in sorted(KSERVE.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text())]
    found = [d for d in everything if d["kind"] == kind]
    assert found, f"no {kind} under {KSERVE}"
    return found


def document(kind: str) -> dict:
    (only,) = documents(kind)
    return only


def services() -> dict[str, dict]:
    """The InferenceServices by protocolVersion."""
    return {s["spec"]["predictor"]["model"]["protocolVersion"]: s for s in documents("InferenceService")}


def runtime_container() -> dict:
    (container,) = document("ClusterServingRuntime")["spec"]["containers"]
    return container


def server_args(name: str = "demo"):
    container = runtime_container()
    assert container["command"] == ["ie_serving"]
    return build_parser().parse_args([arg.replace("{{.Name}}", name) for arg in container["args"]])


def _validate_pod(containers: list[dict]) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "predictor"}, "spec": {"containers": containers}}
    kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)


def test_the_runtime_container_is_a_valid_kubernetes_container():
    runtime = document("ClusterServingRuntime")
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1"
    _validate_pod(runtime["spec"]["containers"])


@pytest.mark.parametrize("protocol", ["v2", "grpc-v2"])
def test_the_inference_service_model_is_a_valid_container_over_the_runtime(protocol):
    service = services()[protocol]
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = service["spec"]["predictor"]
    assert set(predictor) <= {"model", *KSERVE_SCALING_FIELDS}
    model = predictor["model"]
    # KServe's ModelSpec is a Container plus its own fields, merged over the runtime's container
    merged = {**runtime_container(), **{k: v for k, v in model.items() if k not in KSERVE_MODEL_FIELDS}}
    _validate_pod([merged])


def test_a_broken_container_is_refused():
    container = copy.deepcopy(runtime_container())
    container["readinessProbe"]["httpGet"]["port"] = [8080]
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate_pod([container])


@pytest.mark.parametrize("protocol", ["v2", "grpc-v2"])
def test_the_runtime_serves_what_the_inference_service_asks(protocol):
    spec = document("ClusterServingRuntime")["spec"]
    model = services()[protocol]["spec"]["predictor"]["model"]
    assert model["runtime"] == document("ClusterServingRuntime")["metadata"]["name"]
    assert model["protocolVersion"] in spec["protocolVersions"]
    assert set(spec["protocolVersions"]) == {"v1", "v2", "grpc-v2"}
    formats = {f["name"] for f in spec["supportedModelFormats"]}
    assert formats == {"openvino", "tensorflow", "onnx"} and model["modelFormat"]["name"] in formats
    assert all(isinstance(f["version"], str) for f in spec["supportedModelFormats"])
    assert model["storageUri"].startswith(("s3://", "gs://", "pvc://", "https://"))


def test_grpc_v2_is_routed_to_the_servers_grpc_port():
    """KServe sends grpc-v2 to the container port named h2c (HTTP/2 cleartext): it must be the
    port the runtime's server takes gRPC on; the v2 service routes to KServe's default 8080."""
    args = server_args()
    (port,) = services()["grpc-v2"]["spec"]["predictor"]["model"]["ports"]
    assert (port["name"], port["containerPort"], port["protocol"]) == ("h2c", args.port, "TCP")
    assert "ports" not in services()["v2"]["spec"]["predictor"]["model"]
    assert "ports" not in runtime_container()  # a runtime port would be merged into both services


def test_the_arguments_are_the_servers_and_match_kserves_ports_and_model_dir():
    args = server_args("my-model")
    assert args.command == "model"
    assert args.model_name == "my-model"  # KServe fills {{.Name}} with the InferenceService's name
    assert args.model_path == "/mnt/models"  # where KServe's storage initializer puts storageUri
    assert (args.rest_port, args.port) == (8080, 9000)  # KServe's HTTP default port; gRPC as its runtimes use
    probe = runtime_container()["readinessProbe"]["httpGet"]
    assert probe["port"] == args.rest_port
    # the path is the v2 server-ready route of the REST app the server runs on that port
    routes = create_app(Service(ModelStore()), None).url_map.bind("localhost")
    assert probe["path"] == "/v2/health/ready"
    assert routes.match(probe["path"], method="GET")[0] == "v2.ready"
