"""Hide the people: blur, pixelate or fill the masked pixels, working only inside person boxes."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from transformer.config import AnonymizationMode
from transformer.postprocess import Box


def anonymize(
    rgb: np.ndarray,
    mask: np.ndarray,
    regions: Sequence[Box],
    mode: AnonymizationMode,
    *,
    fill_color: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """A copy of `rgb` in which every pixel where `mask` is true is replaced; others are untouched.

    Each region is obfuscated from its own pixels only, so the work scales with the people's
    area, not the frame's; the result is composited with the mask (`cv2.copyTo`).
    """
    out = rgb.copy()
    mask8 = mask.view(np.uint8)
    for box in regions:
        ys = slice(box.y, box.y + box.height)
        xs = slice(box.x, box.x + box.width)
        roi = rgb[ys, xs]
        hidden = _obfuscate(roi, mode, fill_color)
        cv2.copyTo(hidden, mask8[ys, xs], out[ys, xs])
    return out


def _obfuscate(
    roi: np.ndarray, mode: AnonymizationMode, fill_color: tuple[int, int, int]
) -> np.ndarray:
    height, width = roi.shape[:2]
    if mode == "fill":
        return np.full_like(roi, fill_color, dtype=np.uint8)
    if mode == "pixelate":
        block = max(8, max(height, width) // 12)
        small = cv2.resize(
            roi, (max(1, width // block), max(1, height // block)), interpolation=cv2.INTER_AREA
        )
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    # blur: a strong low-pass done cheaply — shrink hard, grow back, smooth the blocks away.
    factor = max(8, max(height, width) // 16)
    small = cv2.resize(
        roi, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA
    )
    grown = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    kernel = min(factor | 1, (min(height, width) | 1))
    return cv2.stackBlur(grown, (kernel, kernel)) if kernel >= 3 else grown
