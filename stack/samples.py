"""The demo's sample images, made from scikit-image's bundled data at run time (nothing fetched)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from skimage import data


@dataclass(frozen=True, slots=True)
class Sample:
    """One image to upload: a name (its output folder and upload file name), encoded bytes, and
    the file extension."""

    name: str
    data: bytes
    ext: str
    expect_person: bool | None = None  # None: unknown (the user's own images)


def _encode(pixels: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **options)
    return buffer.getvalue()


def _resized(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    image = Image.fromarray(pixels)
    return np.asarray(image.resize((width, height), Image.Resampling.LANCZOS))


def _rgb(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels


# (source, height, left, top): people of very different sizes on one 1920×1080 frame, down to
# the 40-px people far from a site camera.
COMPOSITE_PEOPLE = (
    ("astronaut", 760, 40, 200),
    ("camera", 480, 860, 330),
    ("astronaut", 300, 1400, 120),
    ("camera", 200, 1680, 560),
    ("astronaut", 130, 1420, 840),
    ("camera", 96, 880, 880),
    ("astronaut", 80, 1040, 900),
    ("camera", 64, 1180, 940),
    ("astronaut", 56, 860, 60),
    ("astronaut", 48, 1290, 990),
    ("camera", 40, 1640, 1000),
    ("astronaut", 40, 1780, 960),
)


def composite(width: int = 1920, height: int = 1080) -> np.ndarray:
    """A 1920×1080 frame: a sky-and-ground scene with portraits pasted from 760 down to 40 px."""
    background = _resized(data.rocket(), width, height)
    frame = background.copy()
    for source, size, left, top in COMPOSITE_PEOPLE:
        person = _rgb(getattr(data, source)())
        frame[top : top + size, left : left + size] = _resized(person, size, size)
    return frame


def demo_samples() -> list[Sample]:
    """astronaut (JPEG), cameraman (grayscale PNG), rocket (no person, JPEG), and the composite."""
    return [
        Sample("astronaut", _encode(data.astronaut(), "JPEG", quality=92), "jpg", True),
        Sample("cameraman", _encode(data.camera(), "PNG"), "png", True),
        Sample("rocket", _encode(data.rocket(), "JPEG", quality=92), "jpg", False),
        Sample("composite", _encode(composite(), "JPEG", quality=90), "jpg", True),
    ]
