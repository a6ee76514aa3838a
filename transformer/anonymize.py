"""Hide the people: blur, pixelate or fill the masked pixels, working only inside person boxes."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from transformer.config import AnonymizationMode
from transformer.postprocess import Box


# How many blocks (pixelate) or samples (blur) span a region's longer side: a body keeps its
# outline, a face keeps about four, so a 200-px face is as unrecognisable as a 12-px one.
BODY_SAMPLES = {"pixelate": 12, "blur": 16}
FACE_SAMPLES = 4
MIN_BLOCK_PX = 8


def anonymize(
    rgb: np.ndarray,
    mask: np.ndarray,
    regions: Sequence[Box],
    mode: AnonymizationMode,
    *,
    fill_color: tuple[int, int, int] = (0, 0, 0),
    faces: Sequence[tuple[int, int, int, int]] = (),
    in_place: bool = False,
) -> np.ndarray:
    """A copy of `rgb` in which every pixel where `mask` is true is replaced; others are untouched.

    Each region is obfuscated from its own pixels only, so the work scales with the people's
    area, not the frame's; the result is composited with the mask (`cv2.copyTo`). Faces (boxes
    x0, y0, x1, y1 inside the mask) are then hidden again, coarser, from their original pixels.
    Every window is obfuscated from the original pixels before any is composited, so
    `in_place=True` (no copy of the frame: 25 MB at 4K) gives the same pixels, in `rgb` itself.
    """
    mask8 = mask.view(np.uint8)
    windows = [
        (b.x, b.y, b.x + b.width, b.y + b.height, BODY_SAMPLES.get(mode, 1)) for b in regions
    ]
    windows += [(*face, FACE_SAMPLES) for face in faces]
    hidden = [
        _obfuscate(rgb[y0:y1, x0:x1], mode, fill_color, samples)
        for x0, y0, x1, y1, samples in windows
    ]
    out = rgb if in_place and rgb.flags.writeable else rgb.copy()
    for (x0, y0, x1, y1, _), pixels in zip(windows, hidden, strict=True):
        cv2.copyTo(pixels, mask8[y0:y1, x0:x1], out[y0:y1, x0:x1])
    return out


def block_px(height: int, width: int, samples: int) -> int:
    """The obfuscation's block size: `samples` blocks across the longer side, never finer than 8."""
    return max(MIN_BLOCK_PX, max(height, width) // samples)


def _obfuscate(
    roi: np.ndarray, mode: AnonymizationMode, fill_color: tuple[int, int, int], samples: int
) -> np.ndarray:
    height, width = roi.shape[:2]
    if mode == "fill":
        return np.full_like(roi, fill_color, dtype=np.uint8)
    if mode == "pixelate":
        block = block_px(height, width, samples)
        small = cv2.resize(
            roi, (max(1, width // block), max(1, height // block)), interpolation=cv2.INTER_AREA
        )
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    # blur: a strong low-pass done cheaply — shrink hard, grow back, smooth the blocks away.
    factor = block_px(height, width, samples)
    small = cv2.resize(
        roi, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA
    )
    grown = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    kernel = min(factor | 1, (min(height, width) | 1))
    return cv2.stackBlur(grown, (kernel, kernel)) if kernel >= 3 else grown
