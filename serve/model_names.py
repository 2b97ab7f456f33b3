"""Keep multi-model endpoint names and urls inside the model root.

A model name becomes a store key, a URL path segment and a staging directory name, so it is
held to a safe character set. A url is a local directory under the model root
(SAGEMAKER_MULTI_MODEL_DIR): `..`, percent-escapes, NUL bytes and remote schemes are refused as
malformed (400); a path that resolves outside the root, or a model tree holding a symlink that
does, is refused as forbidden (403). Each refusal names the value and what is accepted.
"""

from __future__ import annotations

import os
import pathlib
import re

from ie_serving.errors import Forbidden, InvalidInput

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
NAME_RULE = "1-128 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit, no '..'"
_MAX_URL = 4096


def check_name(name: object) -> str:
    """The model name when it is safe; InvalidInput otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise InvalidInput(f"model_name {name!r} is refused: expected {NAME_RULE}")
    return name


def _malformed(url: str) -> str | None:
    """Why a url is refused before it is looked at on disk, or None."""
    if "\x00" in url:
        return "it contains a NUL byte"
    if "%" in url:
        return "it contains '%': urls are plain paths, percent-escapes are not decoded"
    if "://" in url:
        return "only local paths under the model root are served, not remote urls"
    if ".." in pathlib.PurePosixPath(url).parts:
        return "it contains a '..' component"
    return None


def resolve_url(root: pathlib.Path, url: object) -> pathlib.Path:
    """The model directory `url` names (absolute, or relative to root), resolved, inside root.

    InvalidInput for a malformed url or one that is not a directory, Forbidden when it or a
    symlink in its tree leads outside the root."""
    if not isinstance(url, str) or not url.strip() or len(url) > _MAX_URL:
        raise InvalidInput(f"url {url!r} is refused: expected a directory path under {root}")
    reason = _malformed(url)
    if reason:
        raise InvalidInput(f"url {url!r} is refused: {reason}")
    real_root = root.resolve()
    candidate = pathlib.Path(url) if url.startswith("/") else root / url
    resolved = candidate.resolve()
    if resolved == real_root or not resolved.is_relative_to(real_root):
        raise Forbidden(f"url {url!r} is refused: it leads to {resolved}, outside the model root {root}")
    if not resolved.is_dir():
        raise InvalidInput(f"url {url!r}: {resolved} is not a directory")
    _check_tree(real_root, resolved, url)
    return resolved


def _check_tree(real_root: pathlib.Path, top: pathlib.Path, url: str) -> None:
    """Forbidden when any symlink below `top` resolves outside the root."""
    for directory, subdirs, files in os.walk(top, followlinks=False):
        for entry in (*subdirs, *files):
            path = pathlib.Path(directory, entry)
            if path.is_symlink() and not path.resolve().is_relative_to(real_root):
                raise Forbidden(
                    f"url {url!r} is refused: {path.relative_to(top)} is a symlink to {path.resolve()}, "
                    f"outside the model root",
                )
