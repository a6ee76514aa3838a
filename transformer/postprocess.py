"""Model output → a full-resolution person mask and the boxes of its connected regions."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from transformer.errors import PredictorUnavailable
from transformer.model_contract import ModelContract

MAX_REGIONS_LISTED = 256


@dataclass(frozen=True, slots=True)
class Box:
    x: int
    y: int
    width: int
    height: int
    pixels: int


def person_margin(output: np.ndarray, contract: ModelContract, threshold: float) -> np.ndarray:
    """A low-resolution float map that is > 0 exactly where the model sees a person.

    For logits this compares the best person class with the best other class instead of a full
    argmax; for probabilities it is `p - threshold`. Bilinear upsampling of this margin gives
    smooth mask edges at full resolution.
    """
    scores = np.asarray(output)
    if scores.ndim >= 3 and scores.shape[0] == 1:
        scores = scores[0]
    if contract.output_kind == "probability":
        prob = _single_channel(scores).astype(np.float32)
        margin = prob - np.float32(threshold)
    elif contract.output_kind == "logits":
        if scores.ndim != 3:
            raise PredictorUnavailable(f"logits output has shape {output.shape}, not N×C×H×W")
        person = list(contract.person_classes)
        if max(person) >= scores.shape[0]:
            raise PredictorUnavailable(f"person classes {person} exceed {scores.shape[0]} classes")
        others = np.ones(scores.shape[0], dtype=bool)
        others[person] = False
        best_person = scores[person].max(axis=0)
        best_other = scores[others].max(axis=0) if others.any() else np.full_like(best_person, -np.inf)
        margin = (best_person.astype(np.float32) - best_other.astype(np.float32))
        margin = np.where(margin == 0, np.float32(1e-6), margin)  # ties go to "person"
    else:
        labels = _single_channel(scores)
        margin = np.where(np.isin(labels, contract.person_classes), 1.0, -1.0).astype(np.float32)
    if not np.isfinite(margin).all():
        raise PredictorUnavailable("the model returned non-finite scores")
    return np.ascontiguousarray(margin, dtype=np.float32)


def default_dilation_px(height: int, width: int, contract: ModelContract) -> int:
    """Grow the mask by about two model pixels: the model's edges are only that precise."""
    return max(2, round(2 * max(height / contract.height, width / contract.width)))


def person_mask(margin: np.ndarray, height: int, width: int, dilation_px: int) -> np.ndarray:
    """Full-resolution boolean mask: upsample the margin, keep > 0, dilate (fail towards hiding)."""
    full = cv2.resize(margin, (width, height), interpolation=cv2.INTER_LINEAR)
    mask = (full > 0).view(np.uint8)
    if dilation_px > 0 and mask.any():
        size = 2 * dilation_px + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        mask = cv2.dilate(mask, kernel)
    return mask.astype(bool)


def person_regions(mask: np.ndarray) -> list[Box]:
    """Bounding boxes of the 8-connected person components, largest first."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    boxes = [
        Box(int(x), int(y), int(w), int(h), int(area))
        for x, y, w, h, area in stats[1:count]
    ]
    boxes.sort(key=lambda b: b.pixels, reverse=True)
    return boxes


def _single_channel(scores: np.ndarray) -> np.ndarray:
    if scores.ndim == 3 and scores.shape[0] == 1:
        return scores[0]
    if scores.ndim == 3 and scores.shape[-1] == 1:
        return scores[:, :, 0]
    if scores.ndim == 2:
        return scores
    raise PredictorUnavailable(f"output shape {scores.shape} is not one score map")
