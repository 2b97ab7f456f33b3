"""Reading the docs the tests hold against the code: markdown tables under a `## section`, and
`code` cells; where the Kubernetes manifests live. Shared by the docs tests and the deploy
manifests' tests."""

from __future__ import annotations

import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parent.parent
CONFIGURATION = REPO / "docs" / "configuration.md"
DEPLOY = REPO / "deploy" / "kubernetes"  # the Kubernetes manifests


def table(section: str, doc: pathlib.Path = CONFIGURATION) -> list[list[str]]:
    """The rows (cells stripped, header and rule left out) of the first table under `## section`."""
    text = doc.read_text().split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def code(cell: str) -> str:
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"expected a `code` cell, got {cell!r}"
    return match.group(1)
