"""Version labels and config reload as TF Serving has them, driven by the official client
(tensorflow-serving-api in .venv-tf) and REST:
- labels from the config's version_labels reach their version through model_spec.version_label
  and /v1/models/NAME/labels/LABEL; an unknown one is INVALID_ARGUMENT "Unrecognized servable
  version label: L" (model_servers/server_core.cc GetModelVersionForLabel);
- HandleReloadConfigRequest replaces the model list (server_core.cc ReloadConfig): models left
  out are unloaded, models that stay keep serving with zero failed requests, labels move; a
  label naming a version that is not AVAILABLE is refused (UpdateModelVersionLabelMap);
- --model_config_file_poll_wait_seconds reads the file again and applies a change."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import requests

from tests import models
from tests.framework_envs import run_tf
from tests.grpc_client import RawClient
from tests.processes import free_port

X = np.ones((1, 4), np.float32)


def _config(path, entries: dict[str, tuple[str, dict[str, int]]]) -> None:
    """A text ModelServerConfig: name -> (base path, labels), every version served."""
    configs = []
    for name, (base, labels) in entries.items():
        label_text = " ".join(f'version_labels {{ key: "{k}" value: {v} }}' for k, v in labels.items())
        configs.append(
            f'config {{ name: "{name}" base_path: "{base}" model_version_policy {{ all {{}} }} {label_text} }}'
        )
    path.write_text("model_config_list { " + " ".join(configs) + " }")


def _tf(address: str, *args: str) -> dict:
    return json.loads(run_tf("reload_client.py", address, *args).stdout.strip().splitlines()[-1])


def _repo(tmp_path):
    for version, factor in ((1, 1.0), (2, 2.0)):
        models.save(models.scale_model(factor), tmp_path / "a", version)
    models.save(models.scale_model(5.0), tmp_path / "b", 1)


def test_labels_pick_their_version_and_a_reload_moves_them(tmp_path, start_server):
    _repo(tmp_path)
    config = tmp_path / "models.config"
    _config(config, {"a": (str(tmp_path / "a"), {"stable": 1, "canary": 2}), "b": (str(tmp_path / "b"), {})})
    server = start_server("--model_config_file", str(config), "--rest_api_port", "0")
    assert _tf(server.address, "predict", "a", "stable") == {"version": 1, "y": [[1.0] * 4]}
    assert _tf(server.address, "predict", "a", "canary") == {"version": 2, "y": [[2.0] * 4]}
    assert _tf(server.address, "predict", "a", "nope") == {
        "error": ["INVALID_ARGUMENT", "Unrecognized servable version label: nope"]
    }

    failures: list[str] = []
    done = threading.Event()

    def load() -> None:  # model a keeps serving through the reload
        client = RawClient(server.address)
        while not done.is_set():
            try:
                client.predict("a", {"x": X})
            except Exception as exc:  # noqa: BLE001 (counted, not raised)
                failures.append(repr(exc))
        client.close()

    thread = threading.Thread(target=load)
    thread.start()
    _config(config, {"a": (str(tmp_path / "a"), {"stable": 2})})
    answer = _tf(server.address, "reload", str(config))
    done.set()
    thread.join()
    assert answer == {"error_code": 0, "error_message": ""}
    assert failures == []
    assert _tf(server.address, "predict", "a", "stable") == {"version": 2, "y": [[2.0] * 4]}
    assert RawClient(server.address).status("a")[2][0] == "AVAILABLE"
    gone = _tf(server.address, "predict", "b", "stable")
    assert gone["error"][0] == "INVALID_ARGUMENT"  # b is no longer served: no label of it exists

    _config(config, {"a": (str(tmp_path / "a"), {"stable": 7})})
    refused = _tf(server.address, "reload", str(config))
    assert refused["error"][0] == "FAILED_PRECONDITION"
    assert "Request to assign label to version 7 of model a, which is not currently available" in refused["error"][1]


def test_rest_labels_and_a_polled_config_file(tmp_path, start_server):
    _repo(tmp_path)
    config = tmp_path / "models.config"
    _config(config, {"a": (str(tmp_path / "a"), {"stable": 1})})
    rest_port = free_port()
    server = start_server(
        "--model_config_file",
        str(config),
        "--model_config_file_poll_wait_seconds",
        "1",
        "--rest_api_port",
        str(rest_port),
    )
    url = f"http://127.0.0.1:{rest_port}/v1/models/a/labels/stable:predict"
    deadline = time.monotonic() + 30
    while True:
        try:
            answer = requests.post(url, json={"instances": X.tolist()}, timeout=10)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert answer.status_code == 200 and answer.json() == {"predictions": [[1.0] * 4]}
    unknown = requests.get(f"http://127.0.0.1:{rest_port}/v1/models/a/labels/nope", timeout=10)
    assert unknown.status_code == 400 and unknown.json() == {"error": "Unrecognized servable version label: nope"}

    _config(config, {"a": (str(tmp_path / "a"), {"stable": 2}), "b": (str(tmp_path / "b"), {})})
    client = RawClient(server.address)
    deadline = time.monotonic() + 30
    while "b" not in _served(client) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert client.predict("b", {"x": X})[1]["y"].tolist() == [[5.0] * 4]
    assert requests.post(url, json={"instances": X.tolist()}, timeout=10).json() == {"predictions": [[2.0] * 4]}


def _served(client: RawClient) -> set[str]:
    served = set()
    for name in ("a", "b"):
        try:
            if any(state == "AVAILABLE" for state, _, _ in client.status(name).values()):
                served.add(name)
        except Exception:  # noqa: BLE001 (not served yet)
            pass
    return served


def test_ie_serving_config_polls_its_json_file_and_takes_the_labels_flag(tmp_path, start_server):
    """`ie_serving config` with TF Serving's --model_config_file_poll_wait_seconds (a changed JSON
    config replaces the model list) and --allow_version_labels_for_unavailable_models (a label
    naming a version that is not AVAILABLE is accepted; without the flag start-up refuses it)."""
    _repo(tmp_path)
    config = tmp_path / "models.json"

    def write(entries: dict[str, dict[str, int]]) -> None:
        config.write_text(
            json.dumps(
                {
                    "model_config_list": [
                        {"config": {"name": name, "base_path": str(tmp_path / name), "version_labels": labels}}
                        for name, labels in entries.items()
                    ]
                }
            )
        )

    write({"a": {"stable": 7}})
    refused = start_server("config", "--config_path", str(config), ready=False)
    assert refused.process.wait(timeout=60) != 0
    assert "--allow_version_labels_for_unavailable_models allows it" in refused.log()

    server = start_server(
        "config",
        "--config_path",
        str(config),
        "--model_config_file_poll_wait_seconds",
        "1",
        "--allow_version_labels_for_unavailable_models",
    )
    client = RawClient(server.address)
    assert _served(client) == {"a"}
    write({"a": {"stable": 2}, "b": {}})
    deadline = time.monotonic() + 30
    while "b" not in _served(client) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert client.predict("b", {"x": X})[1]["y"].tolist() == [[5.0] * 4]
    assert _tf(server.address, "predict", "a", "stable") == {"version": 2, "y": [[2.0] * 4]}
