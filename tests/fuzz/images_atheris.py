"""Coverage-guided fuzzing of the image decoding entry point (images.decode_images) with atheris,
libFuzzer for Python: run as a script, it mutates a corpus of valid PNG and JPEG files (written
from tests/image_files.py into the corpus directory given) and feeds each input, as one file and
as a batch of two, to a rank-4 float NHWC input with a static and with a dynamic size. An input
is answered or refused with InvalidInput; any other exception is a crash (atheris prints it and
exits non-zero).

usage: python tests/fuzz/images_atheris.py CORPUS_DIR -runs=N [other libFuzzer flags]
"""

from __future__ import annotations

import pathlib
import sys

import atheris
import numpy as np

with atheris.instrument_imports(include=["ie_serving", "PIL"]):
    from ie_serving.errors import InvalidInput
    from ie_serving.images import decode_images
    from ie_serving.tensor_spec import TensorSpec

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from tests import image_files  # noqa: E402

SPECS = (
    TensorSpec("image", np.dtype(np.float32), (-1, 8, 8, 3)),  # static size: resized
    TensorSpec("image", np.dtype(np.float32), (-1, -1, -1, 3)),  # dynamic size: as they come
)


def write_seeds(corpus: pathlib.Path) -> None:
    """Valid files to start from: PNG (RGB, gray) and JPEG of a few sizes."""
    corpus.mkdir(parents=True, exist_ok=True)
    for height, width in ((1, 1), (5, 7), (16, 16)):
        pixels = image_files.picture(height, width, height)
        (corpus / f"rgb_{height}x{width}.png").write_bytes(image_files.encode(pixels, "PNG"))
        (corpus / f"gray_{height}x{width}.png").write_bytes(image_files.encode(pixels[..., 0], "PNG"))
        (corpus / f"rgb_{height}x{width}.jpg").write_bytes(image_files.encode(pixels, "JPEG", quality=90))


def one_input(data: bytes) -> None:
    files = np.empty(2, dtype=object)
    files[0], files[1] = data, data[: len(data) // 2]
    for spec in SPECS:
        for batch in (files[:1], files):
            try:
                decoded = decode_images("image", batch, spec)
            except InvalidInput:
                continue
            assert decoded.dtype == np.float32 and decoded.shape[0] == batch.size and decoded.shape[3] == 3


def main() -> None:
    corpus = pathlib.Path(sys.argv[1])
    write_seeds(corpus)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
