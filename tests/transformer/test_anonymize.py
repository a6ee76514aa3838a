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
