"""Model versions in Google Cloud Storage through google-cloud-storage.

Credentials from GOOGLE_APPLICATION_CREDENTIALS or the default chain; without any, the
anonymous client reads public buckets. STORAGE_EMULATOR_HOST is honoured by the client."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import google.api_core.exceptions
import google.auth
import google.auth.exceptions
from google.cloud import storage

from ie_serving.errors import StorageError
from ie_serving.storage.cache import VersionCache
from ie_serving.storage.listing import VersionListing
from ie_serving.storage.remote import group_versions, redact, split_url

CHUNK_BYTES = 8 * 1024 * 1024


def _client() -> storage.Client:
    if os.environ.get("STORAGE_EMULATOR_HOST") and not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return storage.Client.create_anonymous_client()
    try:
        return storage.Client()
    except (google.auth.exceptions.DefaultCredentialsError, OSError, ValueError) as exc:
        if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
            raise StorageError(f"GOOGLE_APPLICATION_CREDENTIALS: cannot use these credentials: {exc}") from None
        return storage.Client.create_anonymous_client()


class GCSStorage:
    """Lists versions with list_blobs and downloads them, chunk by chunk, into the cache."""

    def __init__(self, cache: VersionCache):
        self._client = _client()
        self._cache = cache

    def list_versions(self, base_path: str) -> tuple[dict[int, VersionListing], list[str]]:
        bucket, prefix = split_url(base_path)
        try:
            blobs = [(b.name, b.size or 0, str(b.generation)) for b in self._client.list_blobs(bucket, prefix=prefix)]
        except (google.api_core.exceptions.GoogleAPIError, google.auth.exceptions.GoogleAuthError, OSError) as exc:
            raise StorageError(f"cannot list {base_path}: {redact(str(exc))}") from None
        return group_versions(base_path, prefix, blobs)

    def local_dir(self, base_path: str, listing: VersionListing) -> pathlib.Path:
        bucket_name, prefix = split_url(base_path)
        bucket = self._client.bucket(bucket_name)
        stamps = {name: stamp for name, _, stamp in listing.files}

        def download(name: str, destination: pathlib.Path, progress: Callable[[int], None]) -> None:
            blob = bucket.blob(f"{prefix}{listing.directory_name}/{name}", generation=int(stamps[name]))
            try:
                with blob.open("rb", chunk_size=CHUNK_BYTES) as source, open(destination, "wb") as target:
                    while chunk := source.read(CHUNK_BYTES):
                        target.write(chunk)
                        progress(len(chunk))
            except (google.api_core.exceptions.GoogleAPIError, google.auth.exceptions.GoogleAuthError) as exc:
                raise StorageError(
                    f"cannot download {base_path}/{listing.directory_name}/{name}: {redact(str(exc))}"
                ) from None

        return self._cache.fetch(base_path, listing, download)
