"""images.py: encoded files -> the batch an image input takes (layout, channels, resize, dtype),
and every bad file a 400 naming what was expected. OVMS decodes JPEG/PNG sent as DT_STRING
for rank-4 inputs the same way (openvinotoolkit/model_server docs/binary_input.md,
binary_input_layout_and_shape.md); RGB is the default here (TF, Keras, PIL) where OVMS uses BGR."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ie_serving import images
from ie_serving.dtypes import BFLOAT16, STRING
from ie_serving.errors import InvalidInput, ModelLoadError
from ie_serving.images import (
    MAX_IMAGE_PIXELS,
    ImageOptions,
    check_image_options,
    decode_encoded_inputs,
    decode_images,
    infer_layout,
)
from ie_serving.tensor_spec import TensorSpec
from tests.image_files import encode, jpeg_decoded, picture, png_bomb


def files(*items: bytes) -> np.ndarray:
    array = np.empty(len(items), dtype=STRING)
    array[:] = list(items)
    return array


def spec(shape: tuple[int, ...], dtype: object = np.float32) -> TensorSpec:
    return TensorSpec("image", np.dtype(dtype), shape)


PICTURE = picture(24, 32)
PNG = encode(PICTURE)


def test_png_decodes_exactly_in_nhwc_as_float32():
    batch = decode_images("image", files(PNG), spec((-1, 24, 32, 3)))
    assert batch.dtype == np.float32 and batch.shape == (1, 24, 32, 3)
    np.testing.assert_array_equal(batch[0], PICTURE.astype(np.float32))


def test_nchw_is_inferred_and_transposed():
    batch = decode_images("image", files(PNG, PNG), spec((-1, 3, 24, 32)))
    assert batch.shape == (2, 3, 24, 32)
    np.testing.assert_array_equal(batch[1], PICTURE.transpose(2, 0, 1))


def test_bgr_reverses_the_channels():
    batch = decode_images("image", files(PNG), spec((1, 24, 32, 3), np.uint8), ImageOptions(color_format="BGR"))
    np.testing.assert_array_equal(batch[0], PICTURE[:, :, ::-1])


def test_one_channel_input_gets_grayscale():
    gray = PICTURE[:, :, 0]
    batch = decode_images("image", files(encode(gray)), spec((1, 24, 32, 1), np.uint8))
    np.testing.assert_array_equal(batch[0, :, :, 0], gray)


def test_jpeg_decodes_within_tolerance_of_the_picture():
    data = encode(PICTURE, "JPEG", quality=95, subsampling=0)
    batch = decode_images("image", files(data), spec((1, 24, 32, 3)))
    np.testing.assert_array_equal(batch[0], jpeg_decoded(data))
    assert np.abs(batch[0] - PICTURE.astype(np.float32)).mean() < 6


def test_static_height_and_width_resize_bilinear():
    """A 32x24 picture to a 20x10 (width x height) input: Pillow's bilinear, width and height not swapped."""
    batch = decode_images("image", files(PNG), spec((1, 10, 20, 3), np.uint8))
    expected = np.asarray(Image.fromarray(PICTURE).resize((20, 10), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(batch[0], expected)


def test_dynamic_height_and_width_keep_the_image_size():
    batch = decode_images("image", files(PNG), spec((-1, -1, -1, 3)))
    assert batch.shape == (1, 24, 32, 3)


def test_mean_and_scale_per_channel():
    options = ImageOptions(mean=(10.0, 20.0, 30.0), scale=(2.0,))
    batch = decode_images("image", files(PNG), spec((1, 24, 32, 3)), options)
    np.testing.assert_allclose(batch[0], (PICTURE.astype(np.float32) - [10, 20, 30]) / 2)


def test_bfloat16_and_float16_inputs():
    for dtype in (BFLOAT16, np.float16):
        batch = decode_images("image", files(PNG), spec((1, 24, 32, 3), dtype))
        assert batch.dtype == dtype
        np.testing.assert_array_equal(batch.astype(np.float32)[0], PICTURE.astype(np.float32))


def test_many_images_are_decoded_in_order():
    pictures = [picture(24, 32, seed) for seed in range(6)]
    batch = decode_images("image", files(*(encode(p) for p in pictures)), spec((-1, 24, 32, 3), np.uint8))
    np.testing.assert_array_equal(batch, np.stack(pictures))


def test_only_string_tensors_for_numeric_inputs_are_decoded():
    strings = files(b"abc")
    inputs = {"image": files(PNG), "text": strings, "x": np.ones(2)}
    specs = {
        "image": spec((1, 24, 32, 3)),
        "text": TensorSpec("text", STRING, (-1,)),
        "x": TensorSpec("x", np.dtype(np.float64), (2,)),
    }
    decoded = decode_encoded_inputs(inputs, specs)
    assert decoded["image"].shape == (1, 24, 32, 3)
    assert decoded["text"] is strings and decoded["x"] is inputs["x"]


@pytest.mark.parametrize(
    ("shape", "layout"),
    [
        ((1, 224, 224, 3), "NHWC"),
        ((-1, -1, -1, 3), "NHWC"),
        ((1, 3, 224, 224), "NCHW"),
        ((-1, 1, -1, -1), "NCHW"),
        ((1, 3, 3, 3), None),
        ((-1, -1, -1, -1), None),
        ((1, 5, 5, 5), None),
    ],
)
def test_layout_inference(shape, layout):
    assert infer_layout(shape) == layout


BAD = [
    (b"hello, not an image", "expected a JPEG or PNG file, got 19 bytes starting with b'hello, not a'"),
    (encode(PICTURE, "GIF"), "expected a JPEG or PNG file"),
    (encode(PICTURE, "BMP"), "expected a JPEG or PNG file"),
    (encode(PICTURE, "JPEG")[:300], "the JPEG data cannot be decoded"),
    (PNG[: len(PNG) // 2], "the PNG data cannot be decoded"),
    (png_bomb(), "more than"),
    (png_bomb(8193, 4097), f"declares 8193x4097 pixels ({8193 * 4097}), more than {MAX_IMAGE_PIXELS}"),
    (b"", "expected a JPEG or PNG file, got 0 bytes"),
]


BAD_IDS = ["text", "gif", "bmp", "jpeg-cut", "png-cut", "bomb", "big", "empty"]


@pytest.mark.parametrize(("data", "words"), BAD, ids=BAD_IDS)
def test_bad_files_are_invalid_input_naming_the_item(data, words):
    with pytest.raises(InvalidInput) as caught:
        decode_images("image", files(PNG, data), spec((-1, 24, 32, 3)), where="model m version 1")
    assert caught.value.message.startswith("model m version 1: input 'image' image 1: ")
    assert words in caught.value.message


def test_mismatched_sizes_without_resize_are_refused():
    with pytest.raises(InvalidInput, match="image 0 is 32x24 .* image 1 is 16x8"):
        decode_images("image", files(PNG, encode(picture(8, 16))), spec((-1, -1, -1, 3)))


@pytest.mark.parametrize(
    ("input_spec", "words"),
    [
        (spec((-1, 10)), "accepted only by numeric inputs of rank 4"),
        (spec((1, 24, 32, 3), np.bool_), "accepted only by numeric inputs of rank 4"),
        (spec((1, 3, 3, 3)), 'the model\'s "layout" option'),
        (spec((1, 24, 32, 4)), "whether the input is NHWC or NCHW"),
        (spec((1, 24, 32, 3), np.int8), "cannot hold pixel values 0-255"),
    ],
)
def test_inputs_that_take_no_images(input_spec, words):
    with pytest.raises(InvalidInput) as caught:
        decode_images("image", files(PNG), input_spec)
    assert words in caught.value.message


def test_inputs_with_other_channel_counts_take_no_images():
    with pytest.raises(InvalidInput, match=r"has 4 channels in layout NHWC .* images decode to 3 channels"):
        decode_images("image", files(PNG), spec((1, 24, 32, 4)), ImageOptions(layout="NHWC"))


def test_the_batch_is_bounded_from_the_headers(monkeypatch):
    """N files of W x H pixels for a float32 input make N*W*H*C*4 bytes: refused past the limit
    before any file is decoded (the second file is not even a whole PNG)."""
    monkeypatch.setattr(images, "MAX_DECODED_BYTES", 2 * 24 * 32 * 3 * 4 - 1)
    with pytest.raises(InvalidInput, match=r"2 images of 32x24 \(width x height\) make 18432 bytes decoded"):
        decode_images("image", files(PNG, PNG[:100]), spec((-1, -1, -1, 3)))


def test_the_file_count_is_bounded_before_any_file_is_opened(monkeypatch):
    """One DT_STRING value may fill a shape of millions (TF's make_ndarray broadcast): the count
    is checked against a static batch dimension and against MAX_DECODED_BYTES at the smallest
    picture the input takes before any header is read (these files are not even images)."""
    opened = []
    monkeypatch.setattr(images, "_open", lambda data, label: opened.append(label))
    many = np.full(3, b"not an image", dtype=STRING)
    with pytest.raises(InvalidInput, match=r"expects shape \[2, 24, 32, 3\] .*got 3 encoded images"):
        decode_images("image", many, spec((2, 24, 32, 3)))
    monkeypatch.setattr(images, "MAX_DECODED_BYTES", 2 * 24 * 32 * 3 * 4)
    with pytest.raises(InvalidInput, match=r"3 images make at least 27648 bytes decoded, more than 18432"):
        decode_images("image", many, spec((-1, 24, 32, 3)))
    monkeypatch.setattr(images, "MAX_DECODED_BYTES", 2 * 3 * 4)
    with pytest.raises(InvalidInput, match=r"3 images make at least 36 bytes decoded"):
        decode_images("image", many, spec((-1, -1, -1, 3)))
    assert opened == []


def test_batch_of_files_must_be_a_list():
    with pytest.raises(InvalidInput, match=r"shape \[N\].*got shape \[1, 1\]"):
        decode_images("image", files(PNG).reshape(1, 1), spec((1, 24, 32, 3)))


def test_mean_and_scale_that_do_not_fit_an_image_input_fail_the_load():
    """Checked once, when a version loads: a list of neither 1 value nor one per channel, or an
    input that is not floating-point; inputs that take no images are not concerned."""
    images_in = {"image": spec((1, 24, 32, 3))}
    with pytest.raises(
        ModelLoadError, match=r"mean has 2 values; input 'image' \(shape \[1, 24, 32, 3\]\) takes images of 3"
    ):
        check_image_options(images_in, ImageOptions(mean=(1.0, 2.0)))
    with pytest.raises(ModelLoadError, match=r"scale has 3 values; .* takes images of 1 channel"):
        check_image_options({"gray": spec((-1, 8, 8, 1))}, ImageOptions(scale=(1.0, 2.0, 3.0)))
    with pytest.raises(ModelLoadError, match="input 'image' is DT_UINT8: the model's mean and scale apply"):
        check_image_options({"image": spec((1, 24, 32, 3), np.uint8)}, ImageOptions(scale=(2.0,)))
    check_image_options(images_in, ImageOptions(mean=(1.0, 2.0, 3.0), scale=(2.0,)))
    check_image_options(
        {"x": spec((-1, 4), np.int8), "ids": spec((1, 5, 5, 5), np.int32)}, ImageOptions(mean=(1.0, 2.0))
    )
    check_image_options({"image": spec((1, 24, 32, 3), np.uint8)}, ImageOptions())


SEEDS = [encode(picture(8, 8)), encode(picture(8, 8), "JPEG"), encode(picture(8, 8)[:, :, 0])]


@st.composite
def mutated(draw):
    """A valid file with bytes flipped, cut or inserted, or plain random bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[position:]
            if not data:
                break
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.sampled_from([(1, 8, 8, 3), (-1, -1, -1, 3), (1, 1, 6, 6)]))
def test_fuzzed_files_decode_or_are_invalid_input(data, shape):
    """Whatever the bytes, the answer is an array of the input's shape or an InvalidInput."""
    try:
        batch = decode_images("image", files(data), spec(shape))
    except InvalidInput as exc:
        assert "input 'image'" in exc.message
        return
    assert batch.dtype == np.float32 and batch.ndim == 4
    assert all(want in (-1, got) for want, got in zip(shape, batch.shape, strict=True))


def test_pillow_reads_the_header_only_before_the_size_check():
    """A file over the limit is refused from its header (Pillow's open() allocates no pixels);
    one past Pillow's own limit (2 x 89 million pixels) too, with the same words."""
    with Image.open(io.BytesIO(png_bomb(9000, 9000))) as image:
        assert image.size == (9000, 9000)
    with pytest.raises(InvalidInput, match="declares 9000x9000 pixels"):
        decode_images("image", files(png_bomb(9000, 9000)), spec((1, 8, 8, 3)))
    with pytest.raises(InvalidInput, match=f"header declares more than {MAX_IMAGE_PIXELS} pixels"):
        decode_images("image", files(png_bomb(50_000, 50_000)), spec((1, 8, 8, 3)))
