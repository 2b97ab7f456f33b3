"""Encoded images -> the numeric batch a model's image input takes.

One job: N files (JPEG or PNG, one per batch item) and the input's TensorSpec -> an array of
the spec's dtype and layout. Each file's header is read first and its declared size checked
against MAX_IMAGE_PIXELS before any pixel memory is allocated (a small PNG may declare
100000x100000 pixels). Then it is decoded to RGB (or BGR, or grayscale for a 1-channel
input), resized (bilinear) to the input's height and width where they are static and
differ, stacked, laid out as NHWC or NCHW, and converted to the input's dtype: without
scaling, unless the model's `mean`/`scale` options ask for (pixel - mean) / scale.

Pillow decodes (its wheels carry libjpeg-turbo and zlib; it releases the GIL while decoding,
so the files of one request are decoded in parallel threads). Only its JPEG and PNG readers
ever see request bytes. Every failure is an InvalidInput naming the input, the item and what
was expected; nothing a client sends raises anything else.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import io
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ie_serving.dtypes import STRING, can_convert, tf_name
from ie_serving.errors import FailedPrecondition, InvalidInput

if TYPE_CHECKING:  # tensor_spec's pipeline step calls this module
    from ie_serving.tensor_spec import TensorSpec

FORMATS = ("JPEG", "PNG")
_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
# Largest image accepted, by the width x height its header declares: 33.5 million pixels,
# e.g. 8192x4096 (100 MB as 8-bit RGB, decoded one image per thread at a time).
MAX_IMAGE_PIXELS = 1 << 25
LAYOUTS = ("NHWC", "NCHW")
COLOR_FORMATS = ("RGB", "BGR")


@dataclasses.dataclass(frozen=True)
class ImageOptions:
    """A model's options for encoded images (its config keys of the same names)."""

    color_format: str = "RGB"  # the channel order of 3-channel inputs: RGB or BGR
    layout: str | None = None  # NHWC or NCHW; None: inferred from the input's shape
    mean: tuple[float, ...] | None = None  # one value, or one per channel; None: no scaling
    scale: tuple[float, ...] | None = None  # (pixel - mean) / scale; one value or one per channel


DEFAULT_IMAGE_OPTIONS = ImageOptions()


@dataclasses.dataclass(frozen=True)
class _Target:
    layout: str
    channels: int  # 1 or 3
    height: int  # -1: any (the image's own)
    width: int


def decode_encoded_inputs(
    inputs: Mapping[str, np.ndarray],
    specs: Mapping[str, TensorSpec],
    options: ImageOptions = DEFAULT_IMAGE_OPTIONS,
    where: str = "",
) -> dict[str, np.ndarray]:
    """The inputs with every string tensor sent to a numeric input decoded as a batch of images
    (decode_images); other inputs as they came (the pipeline validates them all afterwards)."""
    decoded = dict(inputs)
    for name, array in inputs.items():
        spec = specs.get(name)
        if spec is not None and array.dtype == STRING and spec.dtype != STRING:
            decoded[name] = decode_images(name, array, spec, options, where)
    return decoded


def decode_images(
    name: str, files: np.ndarray, spec: TensorSpec, options: ImageOptions = DEFAULT_IMAGE_OPTIONS, where: str = ""
) -> np.ndarray:
    """N encoded images (a string tensor of shape [N]) -> the batch input `name` takes."""
    prefix = f"{where}: input {name!r}" if where else f"input {name!r}"
    target = _target(prefix, spec, options)
    if files.ndim != 1 or files.size == 0:
        raise InvalidInput(
            f"{prefix}: encoded images come as a list of N files (shape [N], one per batch item), "
            f"got shape {list(files.shape)}"
        )
    items = list(files)
    if len(items) == 1:
        pictures = [_decode_one(items[0], target, options.color_format, f"{prefix} image 0")]
    else:
        pictures = list(
            _pool().map(
                lambda index: _decode_one(items[index], target, options.color_format, f"{prefix} image {index}"),
                range(len(items)),
            )
        )
    sizes = [picture.shape[:2] for picture in pictures]
    if any(size != sizes[0] for size in sizes):
        index = next(i for i, size in enumerate(sizes) if size != sizes[0])
        raise InvalidInput(
            f"{prefix}: the images of one request must have the same height and width when the input's are not "
            f"static (shape {list(spec.shape or ())}); image 0 is {_size_text(sizes[0])}, image {index} is "
            f"{_size_text(sizes[index])}"
        )
    batch = np.stack(pictures)
    batch = _convert(prefix, batch, spec.dtype, options, target.channels)
    return batch.transpose(0, 3, 1, 2) if target.layout == "NCHW" else batch


def _decode_one(data: object, target: _Target, color_format: str = "RGB", label: str = "image") -> np.ndarray:
    """One file -> uint8 pixels [height, width, channels]; InvalidInput for anything else than a
    whole JPEG or PNG within MAX_IMAGE_PIXELS."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"{label}: expected the bytes of a JPEG or PNG file, got {type(data).__name__}")
    data = bytes(data)
    found = next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)
    if found is None:
        raise InvalidInput(f"{label}: expected a JPEG or PNG file, got {len(data)} bytes starting with {data[:12]!r}")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:  # reads the header only
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise _too_large(label, found, width, height)
            picture = image.convert("L" if target.channels == 1 else "RGB")  # decodes
        size = (target.width if target.width > 0 else width, target.height if target.height > 0 else height)
        if picture.size != size:
            picture = picture.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(picture)
    except InvalidInput:
        raise
    except Image.DecompressionBombError:
        raise InvalidInput(
            f"{label}: the {found} header declares more than {MAX_IMAGE_PIXELS} pixels, the largest image accepted"
        ) from None
    except Exception as exc:  # any failure of the decoder on a client's bytes: truncated, corrupt
        raise InvalidInput(f"{label}: the {found} data cannot be decoded ({type(exc).__name__}: {exc})") from None
    if pixels.ndim == 2:
        return pixels[:, :, None]
    return pixels[:, :, ::-1] if color_format == "BGR" else pixels


def _too_large(label: str, found: str, width: int, height: int) -> InvalidInput:
    return InvalidInput(
        f"{label}: the {found} header declares {width}x{height} pixels ({width * height}), more than "
        f"{MAX_IMAGE_PIXELS}, the largest image accepted"
    )


def _size_text(size: tuple[int, ...]) -> str:
    return f"{size[1]}x{size[0]} (width x height)"


def _target(prefix: str, spec: TensorSpec, options: ImageOptions) -> _Target:
    shape = spec.shape
    if shape is None or len(shape) != 4 or spec.dtype.kind not in "fiu" and spec.dtype.name != "bfloat16":
        raise InvalidInput(
            f"{prefix} expects {tf_name(spec.dtype)} of shape {list(shape) if shape else 'any'}; encoded images "
            "(JPEG, PNG) are accepted only by numeric inputs of rank 4 (NHWC or NCHW)"
        )
    layout = options.layout or infer_layout(shape)
    if layout is None:
        raise InvalidInput(
            f"{prefix}: cannot tell from its shape {list(shape)} whether the input is NHWC or NCHW; "
            f'the model\'s "layout" option ("NHWC" or "NCHW") says, for encoded images'
        )
    channels, height, width = (shape[3], shape[1], shape[2]) if layout == "NHWC" else (shape[1], shape[2], shape[3])
    if channels == -1:
        channels = 3
    if channels not in (1, 3):
        raise InvalidInput(
            f"{prefix} has {channels} channels in layout {layout} (shape {list(shape)}); images decode to 3 "
            "channels (color) or 1 (grayscale)"
        )
    return _Target(layout, channels, height, width)


def infer_layout(shape: Sequence[int]) -> str | None:
    """NHWC when only the last dimension can be 1 or 3 channels, NCHW when only the second can;
    None when both or neither can (a dynamic dimension can be anything, so is not a channel count)."""
    last, second = shape[3] in (1, 3), shape[1] in (1, 3)
    if last and not second:
        return "NHWC"
    if second and not last:
        return "NCHW"
    return None


def _convert(prefix: str, batch: np.ndarray, dtype: np.dtype, options: ImageOptions, channels: int) -> np.ndarray:
    """uint8 NHWC pixels -> the input's dtype; (pixel - mean) / scale in float32 when asked."""
    if options.mean is None and options.scale is None:
        if not can_convert(batch.dtype, dtype):
            raise InvalidInput(
                f"{prefix} expects {tf_name(dtype)}, which cannot hold pixel values 0-255; the model's "
                '"mean" and "scale" options map them, for floating-point inputs'
            )
        return batch.astype(dtype)
    if dtype.kind != "f" and dtype.name != "bfloat16":
        raise FailedPrecondition(f"{prefix} is {tf_name(dtype)}: the model's mean and scale apply to float inputs")
    mean = _per_channel(prefix, "mean", options.mean or (0.0,), channels)
    scale = _per_channel(prefix, "scale", options.scale or (1.0,), channels)
    return ((batch.astype(np.float32) - mean) / scale).astype(dtype)


def _per_channel(prefix: str, key: str, values: tuple[float, ...], channels: int) -> np.ndarray:
    if len(values) not in (1, channels):
        raise FailedPrecondition(
            f"{prefix}: the model's {key} has {len(values)} values; expected 1 or one per channel ({channels})"
        )
    return np.asarray(values, dtype=np.float32)


@functools.cache
def _pool() -> concurrent.futures.ThreadPoolExecutor:
    """The threads that decode the files of a request in parallel (made on first use)."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="image-decode")
