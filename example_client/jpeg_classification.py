"""Classify image files with a model served by ie_serving and print the top-5 classes.

Images (JPEG, PNG, ...) are given as files or folders. Each is converted to RGB, resized to
the model's input height and width, and laid out as NCHW or NHWC as the model's metadata
says (a rank-4 input whose dimension 1 is 1 or 3 is NCHW, one whose last dimension is 1 or
3 is NHWC; --layout overrides). Pixel values are 0-255 times --scale: by default 1/255, so
the model gets 0-1, the range the demo model of `make demo` takes; models that take 0-255
(most of the OpenVINO Model Zoo's, with --bgr) need --scale 1. example_client/images/ holds
a few sample pictures:

    make demo     # in another shell: the demo model on gRPC :9000 and REST :8501
    python example_client/jpeg_classification.py --model_name demo example_client/images/
    python example_client/jpeg_classification.py --protocol rest --rest_url http://localhost:8501 example_client/images/
"""

from __future__ import annotations

import argparse
import fractions
import pathlib

import numpy as np
from common import Client, Timer, add_connection_flags, format_top_k
from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def image_paths(arguments: list[str]) -> list[pathlib.Path]:
    """The files given, and the image files directly inside the folders given, sorted; exits
    with an error for a path that does not exist or a folder without image files."""
    paths = []
    for argument in map(pathlib.Path, arguments):
        if argument.is_dir():
            found = sorted(p for p in argument.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                suffixes = "/".join(sorted(IMAGE_SUFFIXES))
                raise SystemExit(f"error: no image files ({suffixes}) in folder {argument}")
            paths.extend(found)
        elif argument.is_file():
            paths.append(argument)
        else:
            raise SystemExit(f"error: {argument}: no such file or folder")
    return paths


def scale_value(text: str) -> float:
    """--scale as a number or a fraction such as 1/255."""
    try:
        return float(fractions.Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number or a fraction such as 1/255, got {text!r}") from None


def guess_layout(shape: list[int]) -> str:
    if len(shape) != 4:
        raise SystemExit(f"error: expected a rank-4 image input, the model's is {shape}")
    if shape[1] in (1, 3):
        return "NCHW"
    if shape[3] in (1, 3):
        return "NHWC"
    raise SystemExit(f"error: cannot tell the layout of input shape {shape}; pass --layout NCHW or NHWC")


def load_image(path: pathlib.Path, layout: str, shape: list[int], size: int, scale: float, bgr: bool) -> np.ndarray:
    """One image as an array [C, H, W] or [H, W, C] of float values."""
    height, width = (shape[2], shape[3]) if layout == "NCHW" else (shape[1], shape[2])
    height, width = (size if height == -1 else height), (size if width == -1 else width)
    channels = shape[1] if layout == "NCHW" else shape[3]
    image = Image.open(path).convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32).reshape(height, width, -1) * scale
    if bgr:
        pixels = pixels[:, :, ::-1]
    return np.ascontiguousarray(pixels.transpose(2, 0, 1) if layout == "NCHW" else pixels)


def build_parser() -> argparse.ArgumentParser:
    """Every flag of this script, each with its help text."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", help="image files, or folders of .jpg/.jpeg/.png/.bmp files")
    add_connection_flags(parser)
    parser.add_argument(
        "--layout", choices=("auto", "NCHW", "NHWC"), default="auto", help="input layout (default auto)"
    )
    parser.add_argument("--batch_size", type=int, default=1, help="images per request (default 1)")
    parser.add_argument("--image_size", type=int, default=224, help="height and width when the model's are -1")
    parser.add_argument(
        "--scale",
        type=scale_value,
        default=1 / 255,
        help="multiply pixel values 0-255 by this, a number or a fraction (default 1/255: values 0-1, as the demo "
        "model of `make demo` takes; use 1 for models that take 0-255, such as the OpenVINO Model Zoo's)",
    )
    parser.add_argument("--bgr", action="store_true", help="channels in BGR order (OpenVINO Model Zoo models)")
    parser.add_argument("--top_k", type=int, default=5, help="classes to print per image (default 5)")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    paths = image_paths(args.images)  # before connecting: a wrong path is the first thing to report

    client = Client(args)
    version, inputs, outputs = client.metadata()
    if len(inputs) != 1:
        raise SystemExit(f"error: expected a model with one image input, it has {sorted(inputs)}")
    input_name, (dtype, shape) = next(iter(inputs.items()))
    layout = guess_layout(shape) if args.layout == "auto" else args.layout
    print(f"model {args.model_name} version {version} over {client.protocol}: input {input_name} {shape} {layout}")
    for start in range(0, len(paths), args.batch_size):
        batch = paths[start : start + args.batch_size]
        images = [load_image(p, layout, shape, args.image_size, args.scale, args.bgr) for p in batch]
        with Timer() as timer:
            result = client.predict({input_name: np.stack(images).astype(dtype)})
        scores = next(iter(result.values()))
        for path, row in zip(batch, scores.reshape(len(batch), -1), strict=True):
            print(f"{path}: {format_top_k(row, args.top_k)}")
        print(f"request of {len(batch)} image(s): {timer.ms:.2f} ms round trip")


if __name__ == "__main__":
    main()
