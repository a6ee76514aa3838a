"""The report's pictures: what the thumbnails may show, and the IoU histogram."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ops.report import LIVE_ONLY, histogram, overlay


def _jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def test_the_person_only_the_live_model_hides_is_painted_over_on_the_candidates_image() -> None:
    rng = np.random.default_rng(0)
    frame = np.full((120, 160, 3), 128, np.uint8)
    face = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)  # detail the candidate left visible
    frame[40:80, 60:100] = face
    live = np.zeros((120, 160), bool)
    live[40:80, 60:100] = True
    candidate = np.zeros_like(live)
    thumb = _decode(overlay(_jpeg(frame), live, candidate, side="candidate"))
    inner = thumb[45:75, 65:95]
    assert np.abs(inner - np.array(LIVE_ONLY)).max() < 12  # solid: no trace of the face
    shown = _decode(overlay(_jpeg(frame), live, candidate, side="live"))
    # the live side is tinted, not painted: its (anonymized) texture stays
    assert shown[45:75, 65:95].std(axis=(0, 1)).mean() > 5 * inner.std(axis=(0, 1)).mean()


def test_histogram_counts_iou_in_tenths() -> None:
    assert histogram([0.0, 0.05, 0.5, 1.0, 1.0]) == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
