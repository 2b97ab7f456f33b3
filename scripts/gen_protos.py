"""Compile the project's TF Serving .proto files into Python stubs inside ie_serving/protos.

The stubs are committed; tests/unit/test_protos.py regenerates them into a temporary
directory and fails when they differ, so sources and stubs cannot drift apart.
"""

import argparse
import pathlib
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "ie_serving" / "protos"


def proto_files() -> list[str]:
    """The .proto sources, relative to the repository root (their import root)."""
    return sorted(str(p.relative_to(ROOT)) for p in PROTO_DIR.rglob("*.proto"))


def generate(out_dir: pathlib.Path) -> None:
    """Write *_pb2.py and *_pb2_grpc.py for every source under out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    include = str(pathlib.Path(protoc.__file__).parent / "_proto")
    args = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"]
    if protoc.main(args + proto_files()) != 0:
        sys.exit("protoc failed")
    for source in PROTO_DIR.rglob("*.proto"):
        if "service " not in source.read_text():  # messages only: drop the empty grpc stub
            (out_dir / source.relative_to(ROOT)).with_name(source.stem + "_pb2_grpc.py").unlink()
    stubs_root = out_dir / PROTO_DIR.relative_to(ROOT)
    for package in [stubs_root, *(p for p in stubs_root.rglob("*") if p.is_dir())]:
        (package / "__init__.py").touch()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT)
    generate(parser.parse_args().out)
