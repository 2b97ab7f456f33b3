"""Image files for the tests: pictures encoded by Pillow, and crafted bad files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def picture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like RGB picture (smooth gradients with noise), uint8 [height, width, 3]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / max(width, 1), y * 255 / max(height, 1), (x + y) * 127 / max(height + width, 1)], -1)
    return np.clip(base + rng.normal(0, 20, (height, width, 3)), 0, 255).astype(np.uint8)


def encode(pixels: np.ndarray, kind: str = "PNG", **options: object) -> bytes:
    """pixels ([H, W, 3] RGB or [H, W] gray) as a file of `kind` (PNG, JPEG, GIF, BMP, ...)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, kind, **options)
    return buffer.getvalue()


def jpeg_decoded(data: bytes) -> np.ndarray:
    """What a JPEG decodes to, as RGB pixels (Pillow, the reference the tests compare with)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG of a few dozen bytes whose header declares width x height RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")
