"""The committed stubs are what scripts/gen_protos.py writes from the .proto sources, and the
server's import graph leaves TensorFlow out: both checked in a fresh interpreter."""

import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_stubs_match_sources(tmp_path):
    subprocess.run([sys.executable, str(REPO / "scripts" / "gen_protos.py"), "--out", str(tmp_path)], check=True)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py"))
    committed = sorted(p.relative_to(REPO) for p in (REPO / "ie_serving" / "protos").rglob("*.py"))
    assert generated == committed
    stale = [str(p) for p in generated if (tmp_path / p).read_bytes() != (REPO / p).read_bytes()]
    assert not stale, f"stubs out of date, run `make protos`: {stale}"


def test_server_never_imports_tensorflow():
    code = (
        "import sys, ie_serving.cli, ie_serving.runtime; assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
