"""Inside the mask the people are unrecognisable; outside it not one pixel changes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from transformer.anonymize import anonymize
from transformer.postprocess import person_regions


def detail(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute Laplacian inside the mask: high for faces and texture, ~0 when blurred."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(np.abs(cv2.Laplacian(gray, cv2.CV_32F))[mask].mean())


@pytest.fixture
def face_mask(astronaut: np.ndarray) -> np.ndarray:
    mask = np.zeros(astronaut.shape[:2], bool)
    cv2.ellipse(mask.view(np.uint8), (215, 120), (70, 95), 0, 0, 360, 1, -1)  # her head
    mask[300:512, 100:420] = True  # her suit
    return mask


@pytest.mark.parametrize("mode", ["blur", "pixelate", "fill"])
def test_outside_the_mask_nothing_changes(
    astronaut: np.ndarray, face_mask: np.ndarray, mode: str
) -> None:
    out = anonymize(astronaut, face_mask, person_regions(face_mask), mode)
    assert np.array_equal(out[~face_mask], astronaut[~face_mask])
    assert out.shape == astronaut.shape and out.dtype == np.uint8


@pytest.mark.parametrize("mode", ["blur", "pixelate"])
def test_inside_the_mask_detail_is_destroyed(
    astronaut: np.ndarray, face_mask: np.ndarray, mode: str
) -> None:
    out = anonymize(astronaut, face_mask, person_regions(face_mask), mode)
    inner = cv2.erode(face_mask.view(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert detail(out, inner) < 0.25 * detail(astronaut, inner)
    # and the face is not recoverable by correlation with the original
    face = inner[40:215, 145:285]
    a = astronaut[40:215, 145:285][face].astype(float).ravel()
    b = out[40:215, 145:285][face].astype(float).ravel()
    assert np.abs(a - b).mean() > 10


def test_fill_uses_the_colour(astronaut: np.ndarray, face_mask: np.ndarray) -> None:
    out = anonymize(
        astronaut, face_mask, person_regions(face_mask), "fill", fill_color=(255, 0, 128)
    )
    assert (out[face_mask] == (255, 0, 128)).all()


def test_input_is_not_modified(astronaut: np.ndarray, face_mask: np.ndarray) -> None:
    before = astronaut.copy()
    anonymize(astronaut, face_mask, person_regions(face_mask), "blur")
    assert np.array_equal(before, astronaut)


def test_tiny_and_edge_regions(astronaut: np.ndarray) -> None:
    mask = np.zeros(astronaut.shape[:2], bool)
    mask[0, 0] = True
    mask[-3:, -2:] = True
    out = anonymize(astronaut, mask, person_regions(mask), "blur")
    assert np.array_equal(out[~mask], astronaut[~mask])


def test_no_people_returns_an_identical_copy(astronaut: np.ndarray) -> None:
    mask = np.zeros(astronaut.shape[:2], bool)
    out = anonymize(astronaut, mask, [], "blur")
    assert np.array_equal(out, astronaut) and out is not astronaut


def identity_detail(face: np.ndarray, seen: np.ndarray, height: int = 24) -> float:
    """Correlation of the Laplacian at the face's identity scale (at most 24 px tall).

    Fine detail at full size is gone after any blur; what lets a person be recognised is detail
    at the scale of the face itself, so both faces are compared shrunk to that scale.
    """
    height = min(height, face.shape[0])
    size = (max(1, round(height * face.shape[1] / face.shape[0])), height)

    def band(img: np.ndarray) -> np.ndarray:
        small = cv2.resize(
            cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA
        )
        return cv2.Laplacian(small.astype(np.float32), cv2.CV_32F).ravel()

    a, b = band(face), band(seen)
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("mode", ["blur", "pixelate"])
@pytest.mark.parametrize("size", [12, 24, 48, 100, 200, 400])
def test_a_face_is_as_unrecognisable_at_12_px_as_at_400(
    astronaut: np.ndarray, mode: str, size: int
) -> None:
    head = astronaut[20:230, 130:300]
    face = cv2.resize(head, (round(size * 170 / 210), size), interpolation=cv2.INTER_AREA)
    frame = np.full((size * 3, size * 3, 3), 128, np.uint8)
    y0, x0 = size, size
    y1, x1 = y0 + face.shape[0], x0 + face.shape[1]
    frame[y0:y1, x0:x1] = face
    mask = np.zeros(frame.shape[:2], bool)
    mask[y0:y1, x0:x1] = True
    out = anonymize(frame, mask, [], mode, faces=[(x0, y0, x1, y1)])
    assert identity_detail(face, face) > 0.99
    assert identity_detail(face, out[y0:y1, x0:x1]) <= 0.15
    assert np.array_equal(out[~mask], frame[~mask])


def test_a_large_face_needs_the_face_strength_not_the_body_strength(astronaut: np.ndarray) -> None:
    """Body strength (16 samples across a region) leaves a 200-px face recognisable."""
    face = cv2.resize(astronaut[20:230, 130:300], (162, 200), interpolation=cv2.INTER_AREA)
    mask = np.ones(face.shape[:2], bool)
    as_body = anonymize(face, mask, person_regions(mask), "blur")
    as_face = anonymize(face, mask, [], "blur", faces=[(0, 0, 162, 200)])
    assert identity_detail(face, as_body) > 0.3
    assert identity_detail(face, as_face) <= 0.15


@pytest.mark.parametrize("mode", ["blur", "pixelate", "fill"])
def test_in_place_gives_the_same_pixels_with_overlapping_windows(
    astronaut: np.ndarray, face_mask: np.ndarray, mode: str
) -> None:
    """Windows overlap (two region boxes, a face box inside both): each is still hidden from the
    original pixels, so the frame anonymized in place equals the copy."""
    from transformer.postprocess import Box

    regions = [Box(100, 25, 320, 487, 1), Box(140, 20, 150, 300, 1)]  # overlap on purpose
    face = (150, 40, 280, 210)
    copied = anonymize(astronaut, face_mask, regions, mode, faces=[face])
    frame = astronaut.copy()
    in_place = anonymize(frame, face_mask, regions, mode, faces=[face], in_place=True)
    assert in_place is frame and np.array_equal(in_place, copied)
    assert not np.array_equal(copied, astronaut)
    read_only = astronaut.copy()
    read_only.flags.writeable = False  # as Pillow hands some frames over: copied, not an error
    out = anonymize(read_only, face_mask, regions, mode, faces=[face], in_place=True)
    assert out is not read_only and np.array_equal(out, copied)
