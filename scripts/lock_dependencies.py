"""Write constraints.txt: the exact versions of ie_serving's runtime dependencies (the whole
closure, as installed in this environment). Installs use it (`pip install -c constraints.txt`),
`make audit` checks it, and tests/unit/test_constraints.py fails when it drifts from the
environment. usage: python scripts/lock_dependencies.py"""

from __future__ import annotations

import importlib.metadata as metadata
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = ROOT / "constraints.txt"


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def runtime_closure(package: str = "ie_serving") -> dict[str, str]:
    """Every distribution ie_serving needs at run time (no extras), with its installed version."""
    pending, seen = [package], {}
    while pending:
        distribution = metadata.distribution(pending.pop())
        for requirement in distribution.requires or []:
            if "extra ==" in requirement or "extra==" in requirement:
                continue
            if ";" in requirement and not _marker_holds(requirement.split(";", 1)[1]):
                continue
            name = _name(requirement)
            if name not in seen:
                seen[name] = metadata.version(name)
                pending.append(name)
    return dict(sorted(seen.items()))


def _marker_holds(marker: str) -> bool:
    from packaging.markers import Marker

    return Marker(marker).evaluate({"extra": ""})


def render(closure: dict[str, str]) -> str:
    lines = ["# Runtime dependencies of ie_serving, pinned. Regenerate: python scripts/lock_dependencies.py"]
    return "\n".join(lines + [f"{name}=={version}" for name, version in closure.items()]) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(runtime_closure()))
    print(f"wrote {TARGET}")
