"""The privacy measures on hand-made images: untouched, blurred, pixelated and half-blurred faces."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from evaluation.metrics import (
    UNRECOGNISABLE_AT,
    body_coverage,
    detail_correlation,
    detail_kept,
    face_unrecognisable,
    masked_share,
)
from evaluation.sources import ASTRONAUT


def jpeg_round_trip(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def astronaut_at(face_width: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The astronaut picture scaled so her face is `face_width` px wide, as a camera sent it
    (JPEG), and the face box in it."""
    x0, y0, x1, y1 = ASTRONAUT.face
    factor = face_width / (x1 - x0)
    size = round(512 * factor)
    rgb = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)
    box = (int(x0 * factor), int(y0 * factor), int(np.ceil(x1 * factor)), int(np.ceil(y1 * factor)))
    return jpeg_round_trip(rgb), box


def blurred(rgb: np.ndarray, box: tuple[int, int, int, int], sigma: float) -> np.ndarray:
    out = rgb.copy()
    x0, y0, x1, y1 = box
    out[y0:y1, x0:x1] = cv2.GaussianBlur(rgb, (0, 0), sigma)[y0:y1, x0:x1]
    return out


def pixelated(rgb: np.ndarray, box: tuple[int, int, int, int], blocks: int) -> np.ndarray:
    out = rgb.copy()
    x0, y0, x1, y1 = box
    face = rgb[y0:y1, x0:x1]
    small = cv2.resize(face, (blocks, blocks), interpolation=cv2.INTER_AREA)
    out[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    return out


FACE_WIDTHS = [8, 14, 30, 98]


@pytest.mark.parametrize("width", FACE_WIDTHS)
def test_an_untouched_face_keeps_its_detail_through_jpeg(width: int) -> None:
    original, box = astronaut_at(width)
    again = jpeg_round_trip(original)  # the transformer re-encodes what it returns
    assert detail_correlation(original, again, box) > 0.9
    assert detail_kept(original, again, box) > 0.9
    assert not face_unrecognisable(detail_kept(original, again, box))


@pytest.mark.parametrize("width", FACE_WIDTHS)
def test_a_strongly_blurred_face_is_unrecognisable(width: int) -> None:
    original, box = astronaut_at(width)
    hidden = jpeg_round_trip(blurred(original, box, sigma=max(2.0, width / 4)))
    assert face_unrecognisable(detail_kept(original, hidden, box))
    assert detail_kept(original, hidden, box) <= UNRECOGNISABLE_AT


@pytest.mark.parametrize("width", FACE_WIDTHS)
def test_a_pixelated_face_is_unrecognisable(width: int) -> None:
    original, box = astronaut_at(width)
    hidden = jpeg_round_trip(pixelated(original, box, blocks=3))
    assert detail_correlation(original, hidden, box) <= UNRECOGNISABLE_AT
    assert face_unrecognisable(detail_kept(original, hidden, box))


@pytest.mark.parametrize("width", [14, 30, 98])
def test_a_half_blurred_face_scores_in_between(width: int) -> None:
    original, box = astronaut_at(width)
    x0, y0, x1, y1 = box
    half = blurred(original, (x0, y0, (x0 + x1) // 2, y1), sigma=max(2.0, width / 4))
    kept = detail_kept(original, jpeg_round_trip(half), box)
    assert 0.2 < kept < 0.85
    assert not face_unrecognisable(kept)


def test_a_face_at_the_image_border_is_measured_like_any_other() -> None:
    original, (x0, y0, x1, y1) = astronaut_at(30)
    crop = np.ascontiguousarray(original[y0:y1, x0:x1])  # the face fills the whole image
    whole = (0, 0, crop.shape[1], crop.shape[0])
    assert detail_kept(crop, jpeg_round_trip(crop), whole) > 0.9
    assert face_unrecognisable(detail_kept(crop, cv2.GaussianBlur(crop, (0, 0), 8), whole))


def test_a_filled_face_scores_zero() -> None:
    original, box = astronaut_at(30)
    filled = original.copy()
    x0, y0, x1, y1 = box
    filled[y0 - 1 : y1 + 1, x0 - 1 : x1 + 1] = 0  # as a mask with a margin would
    assert detail_correlation(original, filled, box) == 0.0
    assert detail_kept(original, filled, box) == 0.0


def test_a_gentle_blur_of_a_large_face_loses_less_than_a_strong_one() -> None:
    original, box = astronaut_at(98)
    gentle = detail_kept(original, blurred(original, box, 0.7), box)
    strong = detail_kept(original, blurred(original, box, 6.0), box)
    assert gentle > strong


def test_bad_inputs_are_refused_with_the_reason() -> None:
    original, box = astronaut_at(30)
    with pytest.raises(ValueError, match="shapes differ"):
        detail_kept(original, original[:-1], box)
    with pytest.raises(ValueError, match="not inside"):
        detail_kept(original, original, (0, 0, 10_000, 10))
    with pytest.raises(ValueError, match="empty"):
        detail_correlation(original, original, (5, 5, 5, 9))
    flat = np.full_like(original, 128)
    with pytest.raises(ValueError, match="no detail"):
        detail_kept(flat, flat, box)


def test_body_coverage_is_the_covered_share_of_the_body() -> None:
    body = np.zeros((20, 20), bool)
    body[5:15, 5:15] = True  # 100 px
    mask = np.zeros_like(body)
    mask[5:10, 0:20] = True  # covers 50 body px and 50 elsewhere
    assert body_coverage(mask, body) == pytest.approx(0.5)
    assert body_coverage(body, body) == 1.0
    assert body_coverage(np.zeros_like(body), body) == 0.0
    with pytest.raises(ValueError, match="empty"):
        body_coverage(mask, np.zeros_like(body))
    with pytest.raises(ValueError, match="shape"):
        body_coverage(mask[:10], body)


def test_masked_share_counts_masked_pixels() -> None:
    mask = np.zeros((10, 40), bool)
    assert masked_share(mask) == 0.0
    mask[:, :4] = True
    assert masked_share(mask) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        masked_share(np.zeros((0, 3), bool))
