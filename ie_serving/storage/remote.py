"""What S3 and GCS share: splitting bucket URLs and grouping object listings into
numeric version directories, exactly as local directories are listed."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ie_serving.storage.listing import VersionListing


def redact(text: str) -> str:
    """The text with credentials in URLs (scheme://user:secret@host) masked, for logs and errors."""
    return re.sub(r"(://)[^/@\s\"']+@", r"\1***@", text)


def split_url(base_path: str) -> tuple[str, str]:
    """("bucket", "prefix/") from "scheme://bucket/prefix"; the prefix ends with "/" or is empty."""
    rest = base_path.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def group_versions(
    base_path: str, prefix: str, objects: Iterable[tuple[str, int, str]]
) -> tuple[dict[int, VersionListing], list[str]]:
    """Objects (key, size, etag or generation) under prefix -> version listings + notes."""
    files: dict[int, list[tuple[str, int, str]]] = {}
    directories: dict[int, str] = {}
    notes: set[str] = set()
    for key, size, stamp in objects:
        relative = key[len(prefix) :]
        head, sep, name = relative.partition("/")
        if not sep:
            notes.add(f"{base_path}/{head}: ignored, not a version directory")
        elif not head.isdigit() or int(head) <= 0:
            notes.add(f"{base_path}/{head}: ignored, version directories must be named by a positive integer")
        elif directories.setdefault(int(head), head) != head:
            notes.add(
                f"{base_path}/{head}: ignored, version {int(head)} is already the directory {directories[int(head)]}"
            )
        elif name and not name.endswith("/"):
            files.setdefault(int(head), []).append((name, size, stamp))
    versions = {
        number: VersionListing(
            number, tuple(sorted(entries)), "" if directories[number] == str(number) else directories[number]
        )
        for number, entries in files.items()
    }
    return versions, sorted(notes)
