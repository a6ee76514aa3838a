"""Decoding real encodings (JPEG, PNG, WebP; EXIF; modes; limits) and encoding results."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import simplejpeg
from PIL import Image

from transformer.codec import decode, encode, encode_mask, sniff_format
from transformer.errors import InvalidImage

from .conftest import encode_with_pillow

BIG = 50_000_000


@pytest.mark.parametrize("fmt, pil_name", [("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")])
def test_decodes_each_format_to_rgb(astronaut: np.ndarray, fmt: str, pil_name: str) -> None:
    blob = encode_with_pillow(astronaut, pil_name, quality=95)
    image = decode(blob, max_pixels=BIG)
    assert image.format == fmt
    assert image.rgb.shape == astronaut.shape and image.rgb.dtype == np.uint8
    assert np.abs(image.rgb.astype(int) - astronaut).mean() < 4  # lossy codecs at q95


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied(fmt: str) -> None:
    """A portrait photo stored landscape with orientation 6 comes out portrait."""
    rgb = np.zeros((40, 80, 3), np.uint8)
    rgb[:, :40] = (255, 0, 0)  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt, exif=exif.tobytes(), quality=95)
    image = decode(buffer.getvalue(), max_pixels=BIG)
    assert image.rgb.shape == (80, 40, 3)
    assert image.rgb[5, 20, 0] > 200 and image.rgb[75, 20, 0] < 60  # red is now on top


@pytest.mark.parametrize(
    "mode, fmt",
    [
        ("L", "PNG"),
        ("L", "JPEG"),
        ("RGBA", "PNG"),
        ("P", "PNG"),
        ("LA", "PNG"),
        ("CMYK", "JPEG"),
        ("I;16", "PNG"),
        ("RGBA", "WEBP"),
    ],
)
def test_other_modes_become_rgb8(mode: str, fmt: str) -> None:
    base = Image.fromarray(np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (32, 1, 3)))
    if mode == "I;16":
        image = Image.fromarray((np.arange(64, dtype=np.uint16)[None, :] * 1000).repeat(32, 0))
        assert image.mode == "I;16"
    else:
        image = base.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    decoded = decode(buffer.getvalue(), max_pixels=BIG)
    assert decoded.rgb.shape == (32, 64, 3) and decoded.rgb.dtype == np.uint8
    row = decoded.rgb[16, :, :].astype(int).mean(axis=1)
    assert row[-1] - row[0] > 100, "the gradient must survive the conversion"


def test_sixteen_bit_gray_keeps_full_range() -> None:
    image = Image.fromarray(np.array([[0, 65535]], dtype=np.uint16).repeat(4, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    rgb = decode(buffer.getvalue(), max_pixels=BIG).rgb
    assert rgb[0, 0, 0] == 0 and rgb[0, 1, 0] == 255


@pytest.mark.parametrize(
    "blob, reason",
    [
        (b"", "not a JPEG"),
        (b"hello, I am a text file", "not a JPEG"),
        (b"GIF89a" + b"\x00" * 100, "not a JPEG"),
        (b"%PDF-1.7\n", "not a JPEG"),
    ],
)
def test_non_images_are_refused(blob: bytes, reason: str) -> None:
    with pytest.raises(InvalidImage, match=reason):
        decode(blob, max_pixels=BIG)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_images_are_refused(astronaut: np.ndarray, fmt: str) -> None:
    blob = encode_with_pillow(astronaut, fmt)
    with pytest.raises(InvalidImage, match="corrupt"):
        decode(blob[: len(blob) // 2], max_pixels=BIG)


def test_corrupt_jpeg_body_is_refused(astronaut: np.ndarray) -> None:
    blob = bytearray(simplejpeg.encode_jpeg(astronaut))
    blob[600:5000] = b"\x00" * 4400
    with pytest.raises(InvalidImage):
        decode(bytes(blob), max_pixels=BIG)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_images_over_the_pixel_limit_are_refused_before_decoding(fmt: str) -> None:
    blob = encode_with_pillow(np.zeros((100, 100, 3), np.uint8), fmt)
    with pytest.raises(InvalidImage, match="more than 5000 pixels"):
        decode(blob, max_pixels=5000)


def test_png_decompression_bomb_header_is_refused() -> None:
    """A 10000×10000 PNG is a few KB on disk; the header check stops it before allocation."""
    image = Image.new("1", (10000, 10000))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    assert len(buffer.getvalue()) < 1_000_000
    with pytest.raises(InvalidImage):
        decode(buffer.getvalue(), max_pixels=BIG)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_encode_round_trips(astronaut: np.ndarray, fmt: str) -> None:
    blob = encode(astronaut, fmt)
    assert sniff_format(blob) == fmt
    back = decode(blob, max_pixels=BIG).rgb
    tolerance = 0 if fmt == "png" else 6
    assert np.abs(back.astype(int) - astronaut).mean() <= tolerance


def test_mask_png_is_bilevel_black_and_white() -> None:
    mask = np.zeros((10, 20), bool)
    mask[2:5, 3:9] = True
    png = Image.open(io.BytesIO(encode_mask(mask)))
    assert png.format == "PNG" and png.mode == "1"
    back = np.asarray(png.convert("L"))
    assert back.shape == (10, 20) and set(np.unique(back)) == {0, 255}
    assert np.array_equal(back == 255, mask)


@pytest.mark.parametrize("size", [(30000, 20), (20, 30000), (5100, 100)])
def test_absurd_aspect_ratios_are_refused_with_the_reason(size: tuple[int, int]) -> None:
    """Issue 14 §1: a 15.6 KB 30000×20 JPEG; refused from its header, before any pixel work."""
    blob = encode_with_pillow(np.zeros((size[1], size[0], 3), np.uint8), "JPEG")
    with pytest.raises(InvalidImage, match=r"aspect ratio is more than 50:1"):
        decode(blob, max_pixels=BIG)


def test_long_panoramas_are_accepted() -> None:
    blob = encode_with_pillow(np.zeros((100, 4000, 3), np.uint8), "PNG")
    assert decode(blob, max_pixels=BIG).rgb.shape == (100, 4000, 3)


def test_jpeg_with_extraneous_bytes_before_a_marker_is_accepted(astronaut: np.ndarray) -> None:
    """Issue 14 §9: libjpeg decodes it with only a warning (common from real cameras)."""
    blob = simplejpeg.encode_jpeg(astronaut)
    sos = blob.find(b"\xff\xda")
    stray = blob[:sos] + b"\x00\x11" + blob[sos:]
    with pytest.raises(ValueError, match="extraneous bytes before marker"):
        simplejpeg.decode_jpeg(stray, strict=True)  # the warning is real
    assert np.array_equal(decode(stray, max_pixels=BIG).rgb, simplejpeg.decode_jpeg(blob))


def test_truncated_jpeg_is_still_refused_with_the_warning(astronaut: np.ndarray) -> None:
    blob = simplejpeg.encode_jpeg(astronaut)
    with pytest.raises(InvalidImage, match="Premature end of JPEG file"):
        decode(blob[: len(blob) // 2], max_pixels=BIG)


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_animated_images_are_refused_not_anonymized_on_one_frame(fmt: str) -> None:
    """Issue 14 §9: only the first frame was anonymized, silently."""
    frames = [Image.fromarray(np.full((32, 32, 3), v, np.uint8)) for v in (0, 128, 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with pytest.raises(InvalidImage, match=r"animated image \(3 frames\)"):
        decode(buffer.getvalue(), max_pixels=BIG)


def test_a_corrupt_png_header_reason_has_no_python_repr() -> None:
    """Issue 14 §9: the reason said 'cannot identify image file <_io.BytesIO object at 0x…>'."""
    blob = bytearray(encode_with_pillow(np.zeros((8, 8, 3), np.uint8), "PNG"))
    blob[blob.find(b"IHDR") + 6] ^= 0xFF  # the width's bytes: the header's CRC no longer matches
    with pytest.raises(InvalidImage) as info:
        decode(bytes(blob), max_pixels=BIG)
    assert "<" not in info.value.reason and "0x" not in info.value.reason
    assert info.value.reason.startswith("corrupt image")


@pytest.mark.parametrize("shape", [(1, 1), (37, 1001), (64, 8), (3, 9)])
def test_mask_png_decodes_to_the_same_mask_in_opencv_and_pillow(shape: tuple[int, int]) -> None:
    """The PNG is written by our own code (bits packed by NumPy): both decoders must agree."""
    mask = np.random.default_rng(sum(shape)).random(shape) < 0.3
    blob = encode_mask(mask)
    with Image.open(io.BytesIO(blob)) as png:
        png.load()  # checks the CRCs and the zlib stream
        assert (png.mode, png.size) == ("1", (shape[1], shape[0]))
        assert np.array_equal(np.asarray(png), mask)
    back = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.shape == shape and np.array_equal(back > 0, mask)
