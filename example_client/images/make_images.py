"""Write the sample pictures beside this file (drawn with pillow, a few KB each), for

    python example_client/jpeg_classification.py --model_name demo example_client/images/

The committed files came from this script; run it again to regenerate them. With the demo
model of `make demo` (random weights, so the classes mean nothing) the shapes in saturated
colours land on different top-1 classes, which shows the pixels reach the model.
"""

from __future__ import annotations

import pathlib

import numpy as np
from PIL import Image, ImageDraw

HERE = pathlib.Path(__file__).resolve().parent
WIDTH, HEIGHT = 192, 144  # not the model's 224x224: the client resizes


def circle() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), (40, 10, 10))
    ImageDraw.Draw(image).ellipse((56, 32, 136, 112), fill=(230, 30, 30), outline=(255, 150, 40), width=4)
    return image


def square() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), (0, 0, 0))
    ImageDraw.Draw(image).rectangle((30, 14, 162, 130), fill=(0, 0, 255))
    return image


def triangle() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), (70, 0, 70))
    ImageDraw.Draw(image).polygon([(96, 16), (170, 128), (22, 128)], fill=(255, 20, 200))
    return image


def sunset() -> Image.Image:
    y = np.mgrid[0:HEIGHT, 0:WIDTH][0]
    sky = np.stack([255 - y * 60 // HEIGHT, 120 + y * 100 // HEIGHT, 200 - y * 180 // HEIGHT], axis=-1)
    image = Image.fromarray(sky.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((70, 70, 122, 122), fill=(255, 200, 40))
    draw.rectangle((0, 100, WIDTH, HEIGHT), fill=(30, 40, 70))
    return image


def checkerboard() -> Image.Image:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    cells = ((x // 24 + y // 24) % 2 * 255).astype(np.uint8)
    return Image.fromarray(np.stack([cells] * 3, axis=-1))


def main() -> None:
    for name, image in (
        ("checkerboard.png", checkerboard()),
        ("circle.png", circle()),
        ("square.jpg", square()),
        ("sunset.jpg", sunset()),
        ("triangle.jpg", triangle()),
    ):
        image.save(HERE / name, **({"quality": 85} if name.endswith(".jpg") else {}))
        print(f"wrote {HERE / name} ({(HERE / name).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
