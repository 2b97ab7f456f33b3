"""What every storage backend shares: a version listing and the backend interface."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class VersionListing:
    """A numeric version directory and its files as (relative name, size, change stamp).

    The file tuple is the version's fingerprint: when it changes, the version changed.
    """

    version: int
    files: tuple[tuple[str, int, str], ...]
    directory: str = ""  # the directory's name when it is not str(version): 00000123 is version 123

    @property
    def directory_name(self) -> str:
        """The version directory's name under the base path, as listed (TF Serving reads
        zero-padded names as the number: 00000123/ is version 123)."""
        return self.directory or str(self.version)


class Storage(Protocol):
    """A model repository backend."""

    def list_versions(self, base_path: str) -> tuple[dict[int, VersionListing], list[str]]:
        """Numeric version directories under base_path, plus one note per ignored entry.

        Raises StorageError when base_path cannot be listed at all."""

    def local_dir(self, base_path: str, listing: VersionListing) -> pathlib.Path:
        """A local directory holding the version's files (fetched first when remote)."""
