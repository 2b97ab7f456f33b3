"""Where model versions live. One small interface for every backend: list the numeric
version directories under a base path with their files, and give one version as a local
directory that the engine can read."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Protocol

from ie_serving.errors import StorageError


@dataclasses.dataclass(frozen=True)
class VersionListing:
    """A numeric version directory and its files as (relative name, size, change stamp).

    The file tuple is the version's fingerprint: when it changes, the version changed.
    """

    version: int
    files: tuple[tuple[str, int, str], ...]


class Storage(Protocol):
    """A model repository backend."""

    def list_versions(self, base_path: str) -> tuple[dict[int, VersionListing], list[str]]:
        """Numeric version directories under base_path, plus one note per ignored entry.

        Raises StorageError when base_path cannot be listed at all."""

    def local_dir(self, base_path: str, listing: VersionListing) -> pathlib.Path:
        """A local directory holding the version's files (fetched first when remote)."""


def storage_for(base_path: str) -> Storage:
    """The backend for a base path; only local paths are served for now."""
    from ie_serving.storage.local import LocalStorage

    if "://" in base_path and not base_path.startswith("file://"):
        scheme = base_path.split("://", 1)[0]
        raise StorageError(
            f"base_path {base_path!r}: storage scheme {scheme}:// is not supported yet; use a local path"
        )
    return LocalStorage()
