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


SCHEMES = ("s3://", "gs://", "file://")


def storage_for(base_path: str, cache_dir: pathlib.Path | None = None) -> Storage:
    """The backend for a base path: s3:// (also Minio), gs://, or a local path.

    Remote versions are downloaded under cache_dir (default: under the system temp dir)."""
    from ie_serving.storage.cache import VersionCache, default_cache_dir

    if "://" in base_path and not base_path.startswith(SCHEMES):
        scheme = base_path.split("://", 1)[0]
        raise StorageError(f"base_path {base_path!r}: unknown scheme {scheme}://; use s3://, gs:// or a local path")
    cache = VersionCache(cache_dir or default_cache_dir())
    if base_path.startswith("s3://"):
        from ie_serving.storage.s3 import S3Storage

        return S3Storage(cache)
    if base_path.startswith("gs://"):
        from ie_serving.storage.gcs import GCSStorage

        return GCSStorage(cache)
    from ie_serving.storage.local import LocalStorage

    return LocalStorage()
