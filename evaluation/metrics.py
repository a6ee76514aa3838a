"""Privacy measures on pixels: is a face still recognisable, how much of a body is masked.

Pure functions over numpy arrays. The fine detail of a face is the Laplacian of its grey pixels.
`detail_correlation` is the Pearson correlation of that detail, anonymized against original;
`detail_kept` is the same correlation weighted by the share of the detail's energy that is left
(capped at 1): the part of the original's fine detail still in place. A face counts as
unrecognisable when `detail_kept` is at most `UNRECOGNISABLE_AT` (0.15). Untouched faces score
about 0.9–1.0 on both, even after JPEG re-encoding; blurred or pixelated ones close to 0.

Why the weighting: the faces of people 40–63 px tall are 6–12 px wide, 40–140 samples, and the
correlation of two unrelated patches that small spreads by about ±1/sqrt(n), ±0.1 to ±0.15. Faces
the transformer blurred completely then still score above 0.15 now and then (up to 0.2 measured on
the evaluation's own people), which is noise, not detail. A blur removes the detail's energy; the
weighting puts that into the score, so a fully blurred face scores about 0 at every size, while a
half-blurred one keeps about 0.5. Pixelation keeps its block edges' energy but they do not
correlate with the face, so it scores low on both measures. Both are reported.
"""

from __future__ import annotations

import cv2
import numpy as np

from evaluation.sources import Box

UNRECOGNISABLE_AT = 0.15
_FLAT = 1e-6  # a Laplacian with less spread than this has no detail at all


def _laplacian(rgb: np.ndarray) -> np.ndarray:
    grey = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F, ksize=1)


def detail_correlation(original: np.ndarray, anonymized: np.ndarray, face: Box) -> float:
    """Pearson correlation of the grey Laplacians of the two images inside `face`.

    The face's border pixels see their real neighbours (the Laplacian is not cut at the box). 0 when the anonymized face has no detail left (a
    flat fill). Raises ValueError when the original face itself has no detail (a broken ground
    truth, not a result) or the box is empty or outside the images.
    """
    a, b = _centred_details(original, anonymized, face)
    spread_a, spread_b = float(np.sqrt((a * a).sum())), float(np.sqrt((b * b).sum()))
    if spread_b < _FLAT:
        return 0.0
    return float((a * b).sum() / (spread_a * spread_b))


def _centred_details(
    original: np.ndarray, anonymized: np.ndarray, face: Box
) -> tuple[np.ndarray, np.ndarray]:
    if original.shape != anonymized.shape:
        raise ValueError(f"image shapes differ: {original.shape} vs {anonymized.shape}")
    x0, y0, x1, y1 = face
    h, w = original.shape[:2]
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise ValueError(f"face box {face} is empty or not inside the {w}×{h} image")
    # The Laplacian is 3×3: a crop one pixel wider than the box gives the box's exact values
    # (and at the image border the same reflection as the whole image would).
    cx0, cy0, cx1, cy1 = max(0, x0 - 1), max(0, y0 - 1), min(w, x1 + 1), min(h, y1 + 1)
    inner = (slice(y0 - cy0, y1 - cy0), slice(x0 - cx0, x1 - cx0))
    a = _laplacian(original[cy0:cy1, cx0:cx1])[inner].ravel().astype(np.float64)
    b = _laplacian(anonymized[cy0:cy1, cx0:cx1])[inner].ravel().astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    if float(np.sqrt((a * a).sum())) < _FLAT:
        raise ValueError(f"the original face {face} has no detail to compare")
    return a, b


def detail_kept(original: np.ndarray, anonymized: np.ndarray, face: Box) -> float:
    """`detail_correlation` × min(1, detail energy of the anonymized face / the original's)."""
    a, b = _centred_details(original, anonymized, face)
    spread_a, spread_b = float(np.sqrt((a * a).sum())), float(np.sqrt((b * b).sum()))
    if spread_b < _FLAT:
        return 0.0
    return float((a * b).sum() / (spread_a * spread_b)) * min(1.0, spread_b / spread_a)


def face_unrecognisable(kept: float) -> bool:
    """The verdict on a face from its `detail_kept` score."""
    return kept <= UNRECOGNISABLE_AT


def body_coverage(mask: np.ndarray, body: np.ndarray) -> float:
    """Share of the body's pixels that the returned mask covers (0..1)."""
    if mask.shape != body.shape:
        raise ValueError(f"mask {mask.shape} and body {body.shape} differ in shape")
    total = int(body.sum())
    if total == 0:
        raise ValueError("the body mask is empty")
    return float(np.logical_and(mask, body).sum() / total)


def masked_share(mask: np.ndarray) -> float:
    """Share of a frame's pixels that are masked (what a person-free frame should keep near 0)."""
    if mask.size == 0:
        raise ValueError("empty mask")
    return float(np.count_nonzero(mask) / mask.size)
