"""Model versions in S3 or any S3-compatible store (Minio, Ceph, ...) through boto3.

Credentials and region come from boto3's standard chain (plus AWS_REGION, which boto3
alone reads only inside AWS runtimes); S3_ENDPOINT (a URL or the seed's
HOST:PORT) or AWS_ENDPOINT_URL points at another store; with no credentials at all,
requests go unsigned, which is how public buckets are read."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Mapping

import boto3
import botocore.config
import botocore.exceptions
from botocore import UNSIGNED

from ie_serving.errors import StorageError
from ie_serving.storage.cache import VersionCache
from ie_serving.storage.listing import VersionListing
from ie_serving.storage.remote import group_versions, redact, split_url

CHUNK_BYTES = 8 * 1024 * 1024


def endpoint_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """S3_ENDPOINT as a URL ("minio:9000" means http://minio:9000); None leaves it to boto3."""
    value = environ.get("S3_ENDPOINT", "").strip()
    if not value:
        return None
    return value if "://" in value else f"http://{value}"


class S3Storage:
    """Lists versions with list_objects_v2 and downloads them into the version cache."""

    def __init__(self, cache: VersionCache):
        try:
            # AWS_REGION is what AWS documents; boto3 alone reads it only inside AWS runtimes
            session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
            signed = session.get_credentials() is not None
            config = botocore.config.Config(
                signature_version=None if signed else UNSIGNED,
                retries={"max_attempts": 2, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            )
            self._client = session.client("s3", endpoint_url=endpoint_url(), config=config)
        except botocore.exceptions.BotoCoreError as exc:  # a missing profile, a bad config file, ...
            raise StorageError(f"cannot set up the S3 client: {redact(str(exc))}") from None
        self._cache = cache

    def list_versions(self, base_path: str) -> tuple[dict[int, VersionListing], list[str]]:
        bucket, prefix = split_url(base_path)
        objects = []
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                objects += [(o["Key"], o["Size"], o["ETag"].strip('"')) for o in page.get("Contents", [])]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise StorageError(f"cannot list {base_path}: {redact(_reason(exc))}") from None
        return group_versions(base_path, prefix, objects)

    def local_dir(self, base_path: str, listing: VersionListing) -> pathlib.Path:
        bucket, prefix = split_url(base_path)
        stamps = {name: stamp for name, _, stamp in listing.files}

        def download(name: str, destination: pathlib.Path, progress: Callable[[int], None]) -> None:
            key = f"{prefix}{listing.directory_name}/{name}"
            try:
                # IfMatch: an object replaced since it was listed fails the download instead
                # of mixing old and new files in one version; chunks keep memory flat
                body = self._client.get_object(Bucket=bucket, Key=key, IfMatch=stamps[name])["Body"]
                with open(destination, "wb") as target:
                    for chunk in body.iter_chunks(CHUNK_BYTES):
                        target.write(chunk)
                        progress(len(chunk))
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                raise StorageError(
                    f"cannot download {base_path}/{listing.directory_name}/{name}: {redact(_reason(exc))}"
                ) from None

        return self._cache.fetch(base_path, listing, download)


def _reason(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        hints = {
            "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID",
            "SignatureDoesNotMatch": "check AWS_SECRET_ACCESS_KEY",
            "AccessDenied": "the credentials may not read this bucket",
            "NoSuchBucket": "check the bucket name",
            "PreconditionFailed": "the object changed while it was downloaded; retried on the next poll",
            "412": "the object changed while it was downloaded; retried on the next poll",
        }
        hint = hints.get(code)
        return f"{code} {message}".strip() + (f" ({hint})" if hint else "")
    return str(exc)
