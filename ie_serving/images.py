"""Encoded images -> the numeric batch a model's image input takes.

One job: N files (JPEG or PNG, one per batch item) and the input's TensorSpec -> an array of
the spec's dtype and layout. Every file's header is read first, before any pixel memory is
allocated: its declared size is checked against MAX_IMAGE_PIXELS (a small PNG may declare
100000x100000 pixels), and the batch they make against MAX_DECODED_BYTES. Before that, the
number of files is checked against the input's static batch dimension and against
MAX_DECODED_BYTES at the smallest picture the input takes. Then each is
decoded to RGB (or grayscale for a 1-channel input) and resized (bilinear) to the input's
height and width where they are static and differ; the batch is stacked, its channels put in
BGR order when the model's `color_format` says so, laid out as NHWC or NCHW, and converted
to the input's dtype: without scaling, unless the model's `mean`/`scale` options ask for
(pixel - mean) / scale (check_image_options makes sure, when a version loads, that they fit
every input that takes images).

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
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ie_serving.dtypes import BFLOAT16, STRING, can_convert, tf_name
from ie_serving.errors import InvalidInput, ModelLoadError

if TYPE_CHECKING:  # tensor_spec's pipeline step calls this module
    from ie_serving.tensor_spec import TensorSpec

FORMATS = ("JPEG", "PNG")
_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
# Largest image accepted, by the width x height its header declares: 33.5 million pixels,
# e.g. 8192x4096 (100 MB as 8-bit RGB, decoded one image per thread at a time).
MAX_IMAGE_PIXELS = 1 << 25
# Largest batch the files of one request decode to (float32 or wider counted at their size,
# narrower types at 4 bytes: the float32 step of mean/scale), checked from the headers.
MAX_DECODED_BYTES = 1 << 30
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


def check_image_options(specs: Mapping[str, TensorSpec], options: ImageOptions) -> None:
    """ModelLoadError when the model's mean/scale cannot apply to an input that takes images
    (rank 4, numeric, its layout known, 1 or 3 channels): the input is not floating-point, or
    a list has neither 1 value nor one per channel. Checked once, when a version loads."""
    if options.mean is None and options.scale is None:
        return
    for name, spec in specs.items():
        try:
            target = _target(f"input {name!r}", spec, options, tf_name)
        except InvalidInput:  # takes no images: mean and scale never apply to it
            continue
        if spec.dtype.kind != "f" and spec.dtype != BFLOAT16:
            raise ModelLoadError(
                f"input {name!r} is {tf_name(spec.dtype)}: the model's mean and scale apply to images sent to "
                "floating-point inputs"
            )
        for key, values in (("mean", options.mean), ("scale", options.scale)):
            if values is not None and len(values) not in (1, target.channels):
                raise ModelLoadError(
                    f"the model's {key} has {len(values)} values; input {name!r} (shape {list(spec.shape or ())}) "
                    f"takes images of {target.channels} channel(s), so 1 or {target.channels} are expected"
                )


def decode_encoded_inputs(
    inputs: Mapping[str, np.ndarray],
    specs: Mapping[str, TensorSpec],
    options: ImageOptions = DEFAULT_IMAGE_OPTIONS,
    where: str = "",
    dtype_name: Callable[[np.dtype], str] = tf_name,
) -> dict[str, np.ndarray]:
    """The inputs with every string tensor sent to a numeric input decoded as a batch of images
    (decode_images); other inputs as they came (the pipeline validates them all afterwards).
    dtype_name: how errors name dtypes (DT_FLOAT, or FP32 for v2 clients)."""
    decoded = dict(inputs)
    for name, array in inputs.items():
        spec = specs.get(name)
        if spec is not None and array.dtype == STRING and spec.dtype != STRING:
            decoded[name] = decode_images(name, array, spec, options, where, dtype_name)
    return decoded


def decode_images(
    name: str,
    files: np.ndarray,
    spec: TensorSpec,
    options: ImageOptions = DEFAULT_IMAGE_OPTIONS,
    where: str = "",
    dtype_name: Callable[[np.dtype], str] = tf_name,
) -> np.ndarray:
    """N encoded images (a string tensor of shape [N]) -> the batch input `name` takes."""
    prefix = f"{where}: input {name!r}" if where else f"input {name!r}"
    target = _target(prefix, spec, options, dtype_name)
    if files.ndim != 1 or files.size == 0:
        raise InvalidInput(
            f"{prefix}: encoded images come as a list of N files (shape [N], one per batch item), "
            f"got shape {list(files.shape)}"
        )
    _check_count(prefix, spec, files.size, target)
    images = []
    try:
        for index, data in enumerate(files):  # headers only: no pixel memory yet
            images.append(_open(data, _label(prefix, index)))
        sizes = [_output_size(image.size, target) for image in images]
        _check_batch(prefix, spec, sizes, target.channels)
        if len(images) == 1:
            pictures = [_decode(images[0], target, sizes[0], _label(prefix, 0))]
        else:
            labels = (_label(prefix, index) for index in range(len(images)))
            pictures = list(_pool().map(_decode, images, [target] * len(images), sizes, labels))
    finally:
        for image in images:
            image.close()
    batch = np.stack(pictures)
    if target.channels == 3 and options.color_format == "BGR":
        batch = batch[..., ::-1]
    batch = _convert(prefix, batch, spec.dtype, options, dtype_name)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2)) if target.layout == "NCHW" else batch


def _label(prefix: str, index: int) -> str:
    return f"{prefix} image {index}"


def _check_count(prefix: str, spec: TensorSpec, count: int, target: _Target) -> None:
    """Before any file is opened: no more files than a static batch dimension takes, and no more
    than MAX_DECODED_BYTES allow at the smallest picture the input takes (its static height and
    width, else 1x1), as one string sent in DT_STRING may fill a shape of millions."""
    batch = spec.shape[0] if spec.shape else -1
    if batch != -1 and count != batch:
        raise InvalidInput(
            f"{prefix} expects shape {list(spec.shape or ())} (-1: any size), got {count} encoded images "
            f"for its batch dimension {batch}"
        )
    smallest = max(target.height, 1) * max(target.width, 1) * target.channels * max(spec.dtype.itemsize, 4)
    if count * smallest > MAX_DECODED_BYTES:
        raise InvalidInput(
            f"{prefix}: {count} images make at least {count * smallest} bytes decoded, more than "
            f"{MAX_DECODED_BYTES}; send fewer or smaller images per request"
        )


def _open(data: object, label: str) -> Image.Image:
    """A JPEG or PNG file opened with its header read and its declared size checked against
    MAX_IMAGE_PIXELS; InvalidInput for anything else (nothing decoded yet)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"{label}: expected the bytes of a JPEG or PNG file, got {type(data).__name__}")
    data = bytes(data)
    found = next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)
    if found is None:
        raise InvalidInput(f"{label}: expected a JPEG or PNG file, got {len(data)} bytes starting with {data[:12]!r}")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise InvalidInput(
            f"{label}: the {found} header declares more than {MAX_IMAGE_PIXELS} pixels, the largest image accepted"
        ) from None
    except Exception as exc:  # any failure of the reader on a client's bytes
        raise InvalidInput(f"{label}: the {found} data cannot be decoded ({type(exc).__name__}: {exc})") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise InvalidInput(
            f"{label}: the {found} header declares {width}x{height} pixels ({width * height}), more than "
            f"{MAX_IMAGE_PIXELS}, the largest image accepted"
        )
    return image


def _output_size(size: tuple[int, int], target: _Target) -> tuple[int, int]:
    """(width, height) a picture of `size` is given to the input: its static ones, else its own."""
    return (target.width if target.width > 0 else size[0], target.height if target.height > 0 else size[1])


def _check_batch(prefix: str, spec: TensorSpec, sizes: Sequence[tuple[int, int]], channels: int) -> None:
    """One size for every picture, and the batch within MAX_DECODED_BYTES, before decoding."""
    for index, size in enumerate(sizes):
        if size != sizes[0]:
            raise InvalidInput(
                f"{prefix}: the images of one request must have the same height and width when the input's are "
                f"not static (shape {list(spec.shape or ())}); image 0 is {_size_text(sizes[0])}, image {index} is "
                f"{_size_text(size)}"
            )
    total = len(sizes) * sizes[0][0] * sizes[0][1] * channels * max(spec.dtype.itemsize, 4)
    if total > MAX_DECODED_BYTES:
        raise InvalidInput(
            f"{prefix}: {len(sizes)} images of {_size_text(sizes[0])} make {total} bytes decoded, more than "
            f"{MAX_DECODED_BYTES}; send fewer or smaller images per request"
        )


def _decode(image: Image.Image, target: _Target, size: tuple[int, int], label: str) -> np.ndarray:
    """An opened image's pixels, uint8 [height, width, channels], RGB or grayscale, resized to
    `size` (width, height) when it differs; InvalidInput for a truncated or corrupt file."""
    try:
        picture = image.convert("L" if target.channels == 1 else "RGB")  # decodes
        if picture.size != size:
            picture = picture.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(picture)
    except Exception as exc:  # any failure of the decoder on a client's bytes: truncated, corrupt
        raise InvalidInput(
            f"{label}: the {image.format} data cannot be decoded ({type(exc).__name__}: {exc})"
        ) from None
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def _size_text(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]} (width x height)"


def _target(prefix: str, spec: TensorSpec, options: ImageOptions, dtype_name: Callable[[np.dtype], str]) -> _Target:
    shape = spec.shape
    if shape is None or len(shape) != 4 or spec.dtype.kind not in "fiu" and spec.dtype.name != "bfloat16":
        raise InvalidInput(
            f"{prefix} expects {dtype_name(spec.dtype)} of shape {list(shape) if shape else 'any'}; encoded images "
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


def _convert(
    prefix: str,
    batch: np.ndarray,
    dtype: np.dtype,
    options: ImageOptions,
    dtype_name: Callable[[np.dtype], str],
) -> np.ndarray:
    """uint8 NHWC pixels -> the input's dtype; (pixel - mean) / scale in float32 when asked
    (check_options made sure, at load, that they fit a floating-point input)."""
    if options.mean is None and options.scale is None:
        if not can_convert(batch.dtype, dtype):
            raise InvalidInput(
                f"{prefix} expects {dtype_name(dtype)}, which cannot hold pixel values 0-255; the model's "
                '"mean" and "scale" options map them, for floating-point inputs'
            )
        return batch.astype(dtype)
    mean = np.asarray(options.mean or (0.0,), dtype=np.float32)
    scale = np.asarray(options.scale or (1.0,), dtype=np.float32)
    return ((batch.astype(np.float32) - mean) / scale).astype(dtype)


@functools.cache
def _pool() -> concurrent.futures.ThreadPoolExecutor:
    """The threads that decode the files of a request in parallel (made on first use)."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="image-decode")
