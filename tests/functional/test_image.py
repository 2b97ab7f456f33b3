"""The Dockerfile's two images, built and run for real with podman (no Docker engine, no
registry): scripts/podman_image.sh builds both targets on a local stand-in for python:3.11-slim.
The SageMaker image (the default target) runs as SageMaker does (`IMAGE serve`, host network,
SageMaker's ulimits, the model mounted read-only at /opt/ml/model, or /opt/ml/models for a
multi-model endpoint); the tfserving target runs as tensorflow/serving's image is run
(`-e MODEL_NAME=m -v MODEL:/models/m:ro IMAGE [tensorflow_model_server flags]`).
Needs root and Debian's podman, runc and debootstrap (.ci/run installs them). Every container is
run in the foreground by a Process and removed by its name even when a test fails."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time
import uuid
import zipfile

import numpy as np
import pytest
import requests

from tests import models
from tests.grpc_client import RawClient
from tests.processes import Process, free_port, grpc_ready, http_answers

REPO = pathlib.Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("IE_SERVING_TEST_IMAGE", "localhost/ie-serving:test")
TFS_IMAGE = os.environ.get("IE_SERVING_TEST_TFSERVING_IMAGE", "localhost/ie-serving-tfserving:test")
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
# podman's default rlimits exceed this sandbox's and are refused; SageMaker's own are these
ULIMITS = ["--ulimit", "nofile=16384:16384", "--ulimit", "nproc=4096:4096"]
X = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.0, 10.0]], dtype=np.float32)

pytestmark = pytest.mark.timeout(900)  # the first build runs debootstrap and pip inside the fixture


def _report(config: pytest.Config, line: str) -> None:
    """A line on the terminal even under -q, and in build/image-report.txt."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\n[image] {line}")
    (REPO / "build").mkdir(exist_ok=True)
    with open(REPO / "build" / "image-report.txt", "a") as report:
        report.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def _stop_within(container, grace: int) -> float:
    """`podman stop -t GRACE` (SIGTERM, SIGKILL after grace seconds): the container must exit 0
    before the grace ends; the seconds it took."""
    start = time.monotonic()
    stopped = _podman("stop", "-t", str(grace), container.container, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    container.process.wait(timeout=30)
    seconds = time.monotonic() - start
    assert container.process.returncode == 0, container.log()
    assert seconds < grace, f"stopped after {seconds:.1f} s"
    return seconds


def _podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*PODMAN, *args], capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(scope="module")
def images(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Both targets of the Dockerfile from one copy of the sources: the default (SageMaker) as
    IMAGE, tfserving as TFS_IMAGE, which reuses IMAGE's install layers (base image from
    debootstrap once, then cached)."""
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    assert not missing, f"{missing} not installed: apt-get install podman runc debootstrap (.ci/run does)"
    log = tmp_path_factory.mktemp("image") / "build.log"
    start = time.monotonic()
    with open(log, "w") as out:
        done = subprocess.run(
            [str(REPO / "scripts" / "podman_image.sh"), "both", IMAGE, TFS_IMAGE], stdout=out, stderr=subprocess.STDOUT
        )
    seconds = time.monotonic() - start
    assert done.returncode == 0, log.read_text()[-5000:]
    timings = [line.split("podman_image: ", 1)[1] for line in log.read_text().splitlines() if "podman_image: " in line]
    sizes = [
        f"{name}: {int(_podman('image', 'inspect', '--format', '{{.Size}}', name).stdout) / 1e6:.0f} MB"
        for name in (IMAGE, TFS_IMAGE)
    ]
    _report(request.config, f"{'; '.join(sizes)}; {'; '.join(timings)}; {seconds:.0f} s in all")
    return {"sagemaker": IMAGE, "tfserving": TFS_IMAGE}


@pytest.fixture(scope="module")
def image(images: dict[str, str]) -> str:
    return images["sagemaker"]


@pytest.fixture(scope="module")
def tfserving_image(images: dict[str, str]) -> str:
    return images["tfserving"]


class Container(Process):
    """`podman run --rm --name NAME ... IMAGE ARGS` in the foreground: stop() sends SIGTERM to
    podman, which passes it on to the container's PID 1; remove() removes it by its name."""

    name = "container"

    def __init__(
        self,
        image: str,
        log_path: pathlib.Path,
        env: dict[str, str],
        volumes: dict[str, pathlib.Path],
        args: tuple[str, ...] = (),
        network: str = "host",
    ):
        self.container = f"ie-serving-test-{uuid.uuid4().hex[:12]}"
        command = [*PODMAN, "run", "--rm", "--name", self.container, "--network", network, *ULIMITS]
        for key, value in env.items():
            command += ["-e", f"{key}={value}"]
        for target, source in volumes.items():
            command += ["-v", f"{source}:{target}:ro"]
        super().__init__([*command, image, *args], log_path, stop_timeout=40)

    def remove(self) -> None:
        self.stop()
        _podman("rm", "--force", "--ignore", self.container, check=False)


class SageMakerContainer(Container):
    """`IMAGE serve` on free ports (SAGEMAKER_BIND_TO_PORT, SAGEMAKER_GRPC_PORT)."""

    def __init__(self, image: str, log_path: pathlib.Path, env: dict[str, str], volumes: dict[str, pathlib.Path]):
        self.http_port, self.grpc_port = free_port(), free_port()
        env = {"SAGEMAKER_BIND_TO_PORT": str(self.http_port), "SAGEMAKER_GRPC_PORT": str(self.grpc_port), **env}
        super().__init__(image, log_path, env, volumes, ("serve",))
        self.url = f"http://127.0.0.1:{self.http_port}"

    def wait_ready(self) -> SageMakerContainer:
        self.wait_for(http_answers(f"{self.url}/ping", 200), timeout=120, what="answering /ping with 200")
        return self


@pytest.fixture
def run_container(image: str, tmp_path: pathlib.Path):
    """Start containers of the image; each is stopped and removed at the end, pass or fail."""
    started: list[Container] = []

    def run(volumes: dict[str, pathlib.Path], env: dict[str, str] | None = None, ready: bool = True) -> Container:
        container = SageMakerContainer(image, tmp_path / f"container{len(started)}.log", env or {}, volumes)
        started.append(container)
        container.start()
        return container.wait_ready() if ready else container

    yield run
    for container in started:
        container.remove()


@pytest.fixture
def run_tfserving(tfserving_image: str, tmp_path: pathlib.Path):
    """Start containers of the tfserving image as `podman run ... IMAGE ARGS`; each is stopped and
    removed by name at the end, pass or fail."""
    started: list[Container] = []

    def run(volumes: dict[str, pathlib.Path], env: dict[str, str], args=(), network: str = "host") -> Container:
        log = tmp_path / f"tfserving{len(started)}.log"
        container = Container(tfserving_image, log, env, volumes, tuple(args), network)
        started.append(container)
        return container.start()

    yield run
    for container in started:
        container.remove()


def _wheel(directory: pathlib.Path, name: str = "image_check", version: str = "1.0") -> pathlib.Path:
    """A pure-Python wheel made here, so code/requirements.txt installs without any index."""
    files = {
        f"{name}/__init__.py": b"NAME = 'image_check'\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for path, data in files.items()
    ]
    files[f"{name}-{version}.dist-info/RECORD"] = (
        "\n".join([*record, f"{name}-{version}.dist-info/RECORD,,"]) + "\n"
    ).encode()
    target = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
    return target


INFERENCE_PY = """\
import json, os, tempfile

import image_check  # installed at start-up from code/requirements.txt


def output_handler(response, context):
    answer = response.json()
    fd, path = tempfile.mkstemp(prefix="answer-", dir="/tmp")  # /tmp is writable
    with os.fdopen(fd, "w") as f:
        json.dump(answer, f)
    with open(path) as f:
        answer = json.load(f)
    os.remove(path)
    answer.update(installed=image_check.NAME, uid=os.getuid(), wrote=path)
    return json.dumps(answer), "application/json"
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A SageMaker model archive as extracted: model/1/model.{xml,bin}, the weights readable by
    their owner only, and code/ with inference.py and a requirements.txt naming a local wheel."""
    root = tmp_path_factory.mktemp("opt_ml") / "model"
    version = models.save(models.scale_model(2.0), root / "model", 1)
    (version / "model.bin").chmod(0o600)
    code = root / "code"
    (code / "wheels").mkdir(parents=True)
    _wheel(code / "wheels")
    (code / "requirements.txt").write_text("--no-index\n--find-links /opt/ml/model/code/wheels\nimage_check==1.0\n")
    (code / "inference.py").write_text(INFERENCE_PY)
    return root


def test_labels_user_and_no_tensorflow(image: str) -> None:
    labels = json.loads(_podman("image", "inspect", "--format", "{{json .Config.Labels}}", image).stdout)
    assert labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert labels["com.amazonaws.sagemaker.capabilities.multi-models"] == "true"
    assert _podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip() in ("", "root")
    assert json.loads(_podman("image", "inspect", "--format", "{{json .Config.Entrypoint}}", image).stdout) == ["serve"]
    probe = (
        "import importlib.util, os, openvino;"
        "print(os.getuid(), importlib.util.find_spec('tensorflow') is None, openvino.__version__)"
    )
    done = _podman("run", "--rm", "--network", "none", *ULIMITS, "--entrypoint", "python", image, "-c", probe)
    uid, no_tensorflow, _ = done.stdout.split()
    assert (uid, no_tensorflow) == ("0", "True"), done.stdout
    pip_list = _podman("run", "--rm", "--network", "none", *ULIMITS, "--entrypoint", "pip", image, "list")
    assert "tensorflow" not in pip_list.stdout.lower()


def test_serve_ping_invocations_grpc(run_container, model_dir: pathlib.Path) -> None:
    """As an endpoint: root reads the owner-only weights, installs code/requirements.txt, the
    handler writes /tmp; /invocations and gRPC Predict give OpenVINO's own answer."""
    container = run_container({"/opt/ml/model": model_dir})
    expected = models.direct_infer(model_dir / "model" / "1" / "model.xml", {"x": X})["y"]
    assert requests.get(f"{container.url}/ping", timeout=5).status_code == 200
    answer = requests.post(f"{container.url}/invocations", json={"instances": X.tolist()}, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    np.testing.assert_array_equal(np.array(body["predictions"], np.float32), expected)
    assert body["installed"] == "image_check" and body["uid"] == 0 and body["wrote"].startswith("/tmp/answer-")
    container.wait_for(grpc_ready(f"127.0.0.1:{container.grpc_port}"), timeout=30, what="serving gRPC")
    client = RawClient(f"127.0.0.1:{container.grpc_port}")
    try:
        version, outputs = client.predict("model", {"x": X})
    finally:
        client.close()
    assert version == 1
    np.testing.assert_array_equal(outputs["y"], expected)
    assert "installed /opt/ml/model/code/requirements.txt" in container.log()


def test_sigterm_stops_with_exit_0_within_30_s(
    run_container, tmp_path: pathlib.Path, request: pytest.FixtureRequest
) -> None:
    """SageMaker stops a container with SIGTERM and kills it 30 s later: `podman stop -t 30`."""
    models.save(models.scale_model(3.0), tmp_path / "model" / "model", 1)
    container = run_container({"/opt/ml/model": tmp_path / "model"})
    seconds = _stop_within(container, 30)
    _report(request.config, f"`podman stop -t 30`: serve exited 0 after {seconds:.1f} s")


def test_sigterm_to_podman_run_reaches_pid_1(run_container, tmp_path: pathlib.Path) -> None:
    """SIGTERM to the foreground `podman run` (as `docker run` gets it) is passed on to serve."""
    models.save(models.scale_model(3.0), tmp_path / "model" / "model", 1)
    container = run_container({"/opt/ml/model": tmp_path / "model"})
    start = time.monotonic()
    container.signal(signal.SIGTERM)
    container.process.wait(timeout=35)
    assert container.process.returncode == 0, container.log()
    assert time.monotonic() - start < 30


def test_multi_model_endpoint(run_container, tmp_path: pathlib.Path) -> None:
    """SAGEMAKER_MULTI_MODEL=true with the models at /opt/ml/models: load, invoke, unload."""
    root = tmp_path / "models"
    models.save(models.scale_model(5.0), root / "five" / "model", 1)
    container = run_container({"/opt/ml/models": root}, {"SAGEMAKER_MULTI_MODEL": "true"})
    assert requests.get(f"{container.url}/models", timeout=5).json() == {"models": []}
    loaded = requests.post(
        f"{container.url}/models", json={"model_name": "five", "url": "/opt/ml/models/five/model"}, timeout=60
    )
    assert loaded.status_code == 200, loaded.text
    invoked = requests.post(f"{container.url}/models/five/invoke", json={"instances": X.tolist()}, timeout=30)
    assert invoked.status_code == 200, invoked.text
    expected = models.direct_infer(root / "five" / "model" / "1" / "model.xml", {"x": X})["y"]
    np.testing.assert_array_equal(np.array(invoked.json()["predictions"], np.float32), expected)
    assert requests.delete(f"{container.url}/models/five", timeout=30).status_code == 200
    assert (
        requests.post(f"{container.url}/models/five/invoke", json={"instances": X.tolist()}, timeout=30).status_code
        == 404
    )
    assert requests.get(f"{container.url}/models", timeout=5).json() == {"models": []}


# --- the tfserving target: tensorflow/serving's image contract


def test_tfserving_image_config(tfserving_image: str) -> None:
    """As tensorflow_serving/tools/docker/Dockerfile: the entrypoint script, MODEL_NAME=model,
    MODEL_BASE_PATH=/models, ports 8500 and 8501; none of the SageMaker labels."""
    config = json.loads(_podman("image", "inspect", "--format", "{{json .Config}}", tfserving_image).stdout)
    assert config["Entrypoint"] == ["/usr/bin/tf_serving_entrypoint.sh"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert (env["MODEL_NAME"], env["MODEL_BASE_PATH"]) == ("model", "/models")
    assert set(config["ExposedPorts"]) == {"8500/tcp", "8501/tcp"}
    assert not any("sagemaker" in label for label in config.get("Labels") or {})
    assert config.get("User", "") in ("", "root")


def test_tfserving_predict_status_and_docker_stop(
    run_tfserving, tmp_path: pathlib.Path, request: pytest.FixtureRequest
) -> None:
    """`podman run -e MODEL_NAME=m -v MODEL:/models/m:ro IMAGE --port=P --rest_api_port=R`: the
    extra flags reach tensorflow_model_server (they follow, and override, the script's 8500 and
    8501); gRPC Predict and REST :predict give OpenVINO's own answer, GetModelStatus says
    AVAILABLE; `podman stop` (docker stop's SIGTERM, SIGKILL after 10 s) ends it with exit 0."""
    model = tmp_path / "m"
    models.save(models.scale_model(2.0), model, 1)
    expected = models.direct_infer(model / "1" / "model.xml", {"x": X})["y"]
    grpc_port, rest_port = free_port(), free_port()
    container = run_tfserving(
        {"/models/m": model}, {"MODEL_NAME": "m"}, [f"--port={grpc_port}", f"--rest_api_port={rest_port}"]
    )
    url = f"http://127.0.0.1:{rest_port}/v1/models/m"
    container.wait_for(http_answers(url, 200), timeout=120, what=f"answering {url}")
    container.wait_for(grpc_ready(f"127.0.0.1:{grpc_port}"), timeout=30, what="serving gRPC")
    assert requests.get(url, timeout=5).json()["model_version_status"][0]["state"] == "AVAILABLE"
    answer = requests.post(f"{url}:predict", json={"instances": X.tolist()}, timeout=30)
    assert answer.status_code == 200, answer.text
    np.testing.assert_array_equal(np.array(answer.json()["predictions"], np.float32), expected)
    client = RawClient(f"127.0.0.1:{grpc_port}")
    try:
        version, outputs = client.predict("m", {"x": X})
        status = client.status("m")
    finally:
        client.close()
    assert version == 1
    np.testing.assert_array_equal(outputs["y"], expected)
    assert status == {1: ("AVAILABLE", 0, "")}
    seconds = _stop_within(container, 10)
    _report(request.config, f"tfserving image: `podman stop -t 10`: exit 0 after {seconds:.1f} s")


# Run inside the container (its own network namespace): the defaults of the entrypoint script.
DEFAULTS_PROBE = """\
import json, os, sys, time, urllib.request
import grpc
from ie_serving.protos.tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

deadline = time.monotonic() + 90
while True:
    try:
        with urllib.request.urlopen("http://127.0.0.1:8501/v1/models/model", timeout=2) as answer:
            rest_status = json.load(answer)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
body = json.dumps({"instances": json.loads(sys.argv[1])}).encode()
predict = urllib.request.Request("http://127.0.0.1:8501/v1/models/model:predict", body)
with urllib.request.urlopen(predict, timeout=30) as answer:
    predictions = json.load(answer)["predictions"]
request = get_model_status_pb2.GetModelStatusRequest()
request.model_spec.name = "model"
with grpc.insecure_channel("127.0.0.1:8500") as channel:
    grpc_status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, timeout=30)
print(json.dumps({
    "rest": [s["state"] for s in rest_status["model_version_status"]],
    "grpc": [get_model_status_pb2.ModelVersionStatus.State.Name(s.state) for s in grpc_status.model_version_status],
    "predictions": predictions,
    "tensorflow_model_server": os.path.realpath("/usr/bin/tensorflow_model_server"),
}))
"""


def test_tfserving_defaults_model_base_path_and_sigterm(run_tfserving, tmp_path: pathlib.Path) -> None:
    """No flags and no MODEL_NAME, the model mounted elsewhere with -e MODEL_BASE_PATH: the
    server takes ${MODEL_BASE_PATH}/model and listens on 8500 and 8501 (asked from inside the
    container, which has a network of its own); SIGTERM to `podman run` ends it with exit 0."""
    model = tmp_path / "model"
    models.save(models.scale_model(3.0), model, 1)
    expected = models.direct_infer(model / "1" / "model.xml", {"x": X})["y"]
    container = run_tfserving({"/srv/store/model": model}, {"MODEL_BASE_PATH": "/srv/store"}, network="none")
    container.wait_for(
        lambda: _podman("container", "exists", container.container, check=False).returncode == 0,
        timeout=60,
        what="created",
    )
    probe = _podman("exec", container.container, "python", "-c", DEFAULTS_PROBE, json.dumps(X.tolist()), check=False)
    assert probe.returncode == 0, probe.stderr + container.log()
    found = json.loads(probe.stdout)
    assert found["rest"] == found["grpc"] == ["AVAILABLE"], found
    np.testing.assert_array_equal(np.array(found["predictions"], np.float32), expected)
    assert found["tensorflow_model_server"].startswith("/opt/venv/bin/"), found
    start = time.monotonic()
    container.signal(signal.SIGTERM)
    container.process.wait(timeout=35)
    assert container.process.returncode == 0, container.log()
    assert time.monotonic() - start < 10
