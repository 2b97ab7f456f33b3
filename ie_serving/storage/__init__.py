"""Where model versions live: local paths, S3 (also Minio) and GCS. Every backend lists the
numeric version directories under a base path with their files and gives one version as a
local directory that the engine can read (listing.Storage)."""

from __future__ import annotations

import pathlib

from ie_serving.errors import StorageError
from ie_serving.storage.listing import Storage

SCHEMES = ("s3://", "gs://", "file://")


def storage_for(base_path: str, cache_dir: pathlib.Path | None = None) -> Storage:
    """The backend for a base path: s3:// (also Minio), gs://, or a local path.

    Remote versions are downloaded under cache_dir (default: under the system temp dir)."""
    from ie_serving.storage.cache import VersionCache, default_cache_dir

    if "://" in base_path and not base_path.startswith(SCHEMES):
        scheme = base_path.split("://", 1)[0]
        raise StorageError(f"base_path {base_path!r}: unknown scheme {scheme}://; use s3://, gs:// or a local path")
    if base_path.startswith("s3://"):
        from ie_serving.storage.s3 import S3Storage

        return S3Storage(VersionCache(cache_dir or default_cache_dir()))
    if base_path.startswith("gs://"):
        from ie_serving.storage.gcs import GCSStorage

        return GCSStorage(VersionCache(cache_dir or default_cache_dir()))
    from ie_serving.storage.local import LocalStorage

    return LocalStorage()
