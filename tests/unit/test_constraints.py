"""constraints.txt pins exactly the runtime dependency closure that is installed, so the lock
cannot drift from what the tests ran against."""

import importlib.util
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]


def _lock_module():
    spec = importlib.util.spec_from_file_location("lock_dependencies", REPO / "scripts" / "lock_dependencies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_constraints_match_the_installed_runtime_closure():
    lock = _lock_module()
    closure = lock.runtime_closure()
    assert {"openvino", "grpcio", "protobuf", "numpy", "flask", "gunicorn", "boto3"} <= set(closure)
    committed = (REPO / "constraints.txt").read_text()
    assert committed == lock.render(closure), "constraints.txt is stale: run python scripts/lock_dependencies.py"
    assert "tensorflow" not in committed
