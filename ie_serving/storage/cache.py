"""The local cache of remote model versions: each version is downloaded into a temporary
directory and renamed into place when complete, with a manifest of the objects it came
from, so a half-downloaded version is never loaded and an unchanged one is not fetched
again after a restart."""

from __future__ import annotations

import hashlib
import json
import logging
import pathlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable

from ie_serving.errors import StorageError
from ie_serving.storage.listing import VersionListing

log = logging.getLogger(__name__)

MANIFEST = ".ie_serving_manifest.json"
PROGRESS_THRESHOLD_BYTES = 50 * 1024 * 1024

# download(relative_name, destination, progress) fetches one object of a version
Downloader = Callable[[str, pathlib.Path, Callable[[int], None]], None]


def default_cache_dir() -> pathlib.Path:
    return pathlib.Path(tempfile.gettempdir()) / "ie_serving_model_cache"


class VersionCache:
    """Versions of remote base paths under cache_dir/<hash of base path>/<version>."""

    def __init__(self, cache_dir: pathlib.Path):
        self.root = cache_dir

    def version_dir(self, base_path: str, version: int) -> pathlib.Path:
        digest = hashlib.sha256(base_path.encode()).hexdigest()[:16]
        return self.root / digest / str(version)

    def fetch(self, base_path: str, listing: VersionListing, download: Downloader) -> pathlib.Path:
        """The version's local directory, downloaded unless the cache holds the same objects."""
        target = self.version_dir(base_path, listing.version)
        if _manifest(target) == _as_json(listing.files):
            log.info("%s version %d: using cached copy in %s", base_path, listing.version, target)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".partial-{listing.version}-{uuid.uuid4().hex[:8]}"
        total = sum(size for _, size, _ in listing.files)
        log.info(
            "%s version %d: downloading %d file(s), %.1f MB",
            base_path,
            listing.version,
            len(listing.files),
            total / 1e6,
        )
        started = time.monotonic()
        try:
            for name, size, _ in listing.files:
                destination = staging / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                download(name, destination, _progress_logger(f"{base_path} version {listing.version}: {name}", size))
            (staging / MANIFEST).write_text(json.dumps(_as_json(listing.files)))
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        except StorageError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise StorageError(f"cannot write the model cache in {self.root}: {exc}") from None
        log.info("%s version %d: downloaded in %.1f s", base_path, listing.version, time.monotonic() - started)
        return target


def _as_json(files: tuple[tuple[str, int, str], ...]) -> list[list]:
    return [list(entry) for entry in files]


def _manifest(directory: pathlib.Path) -> list | None:
    try:
        return json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _progress_logger(what: str, size: int) -> Callable[[int], None]:
    """A callback taking byte counts that logs every 10% of files over 50 MB."""
    if size < PROGRESS_THRESHOLD_BYTES:
        return lambda _count: None
    done = 0
    next_report = 0.1

    def report(count: int) -> None:
        nonlocal done, next_report
        done += count
        if done / size >= next_report:
            log.info("%s: %d%% of %.0f MB", what, int(100 * done / size), size / 1e6)
            next_report += 0.1

    return report
