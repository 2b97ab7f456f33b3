"""Model versions on the local filesystem (also volumes mounted into a container)."""

from __future__ import annotations

import os
import pathlib

from ie_serving.errors import StorageError
from ie_serving.storage.listing import VersionListing


def _local_path(base_path: str) -> pathlib.Path:
    return pathlib.Path(base_path.removeprefix("file://")).expanduser()


class LocalStorage:
    """Lists version directories with os.scandir; a version is already local."""

    def list_versions(self, base_path: str) -> tuple[dict[int, VersionListing], list[str]]:
        root = _local_path(base_path)
        try:
            entries = list(os.scandir(root))
        except OSError as exc:
            raise StorageError(f"cannot list base path {str(root)!r}: {exc.strerror or exc}") from None
        versions: dict[int, VersionListing] = {}
        notes: list[str] = []
        for entry in sorted(entries, key=lambda e: e.name):
            if not entry.is_dir():
                notes.append(f"{entry.path}: ignored, not a version directory")
            elif not entry.name.isdigit() or int(entry.name) <= 0:
                notes.append(f"{entry.path}: ignored, version directories must be named by a positive integer")
            elif int(entry.name) in versions:
                first = versions[int(entry.name)].directory_name
                notes.append(f"{entry.path}: ignored, version {int(entry.name)} is already the directory {first}")
            else:
                number = int(entry.name)
                directory = "" if entry.name == str(number) else entry.name
                versions[number] = VersionListing(number, _files_under(pathlib.Path(entry.path)), directory)
        return versions, notes

    def local_dir(self, base_path: str, listing: VersionListing) -> pathlib.Path:
        return _local_path(base_path) / listing.directory_name


def _files_under(directory: pathlib.Path) -> tuple[tuple[str, int, str], ...]:
    """Every regular file below directory with its size and modification time."""
    files = []
    for dirpath, _dirnames, filenames in os.walk(directory):
        for name in filenames:
            path = pathlib.Path(dirpath, name)
            try:
                stat = path.stat()
            except OSError:
                continue  # removed while listing: the next poll sees the new state
            files.append((str(path.relative_to(directory)), stat.st_size, str(stat.st_mtime_ns)))
    return tuple(sorted(files))
