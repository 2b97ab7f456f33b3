"""docs/troubleshooting.md quotes only messages the code can still produce, and covers every
request error kind of errors.Code with its gRPC code and HTTP status."""

from __future__ import annotations

import pathlib
import re

from ie_serving.errors import Code

REPO = pathlib.Path(__file__).resolve().parents[2]

DOC = REPO / "docs" / "troubleshooting.md"


def source_text() -> str:
    """Every server module (ie_serving/, and serve/ where the SageMaker entrypoint lives), with
    f-string placeholders and line continuations flattened."""
    roots = [REPO / "ie_serving"] + [p for p in (REPO / "serve",) if p.is_dir()]
    paths = [p for root in roots for p in root.rglob("*.py") if "protos" not in p.parts]
    text = "\n".join(p.read_text() for p in paths)
    return re.sub(r'"\s*\n\s*f?"', "", text)


def quoted_messages() -> list[str]:
    """The `code` in the first cell of every table row (header rows left out)."""
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| `")]
    return [m for row in rows for m in re.findall(r"`([^`]+)`", row.split("|")[1])]


def test_every_quoted_message_is_in_the_code() -> None:
    source = source_text()
    messages = quoted_messages()
    assert len(messages) > 40
    for message in messages:
        for fragment in message.split("..."):
            fragment = fragment.strip()
            if len(fragment) >= 6:
                assert fragment in source, (message, fragment)


def test_every_request_error_code_is_explained() -> None:
    text = DOC.read_text().split("## Request errors", 1)[1]
    for code in Code:
        # UNKNOWN and UNAVAILABLE only appear as a failed version's error_code in GetModelStatus
        if code not in (Code.UNKNOWN, Code.UNAVAILABLE):
            grpc_name = getattr(code, "grpc_name", None) or code.grpc_code.name
            assert f"{grpc_name} / {code.http_status}" in text, code.name
