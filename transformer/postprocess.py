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
        best_other = (
            scores[others].max(axis=0) if others.any() else np.full_like(best_person, -np.inf)
        )
        margin = best_person.astype(np.float32) - best_other.astype(np.float32)
        margin = np.where(margin == 0, np.float32(1e-6), margin)  # ties go to "person"
    else:
        labels = _single_channel(scores)
        margin = np.where(np.isin(labels, contract.person_classes), 1.0, -1.0).astype(np.float32)
    if not np.isfinite(margin).all():
        raise PredictorUnavailable("the model returned non-finite scores")
    return np.ascontiguousarray(margin, dtype=np.float32)


def mask_fraction(mask: np.ndarray) -> float:
    """The share of true pixels: `mask.mean()`, without a float pass over the frame (~10× faster)."""
    return cv2.countNonZero(np.ascontiguousarray(mask).view(np.uint8)) / mask.size


def default_dilation_px(height: int, width: int, contract: ModelContract) -> int:
    """Grow the mask by about two model pixels: the model's edges are only that precise."""
    return max(2, round(2 * max(height / contract.height, width / contract.width)))


def person_mask(margin: np.ndarray, height: int, width: int, dilation_px: int) -> np.ndarray:
    """Full-resolution boolean mask: grow the margin, upsample it bilinearly, keep > 0.

    The growth is a grey dilation (max filter) of the low-resolution margin by at least
    `dilation_px` image pixels, which is ~100× cheaper than dilating the full-size mask.
    """
    grown = _grow(margin, height, width, dilation_px)
    full = cv2.resize(grown, (width, height), interpolation=cv2.INTER_LINEAR)
    return full > 0


def person_mask_and_regions(
    margin: np.ndarray, height: int, width: int, dilation_px: int
) -> tuple[np.ndarray, list[Box]]:
    """The full-resolution mask and boxes that cover every one of its pixels.

    Components are found at model resolution and mapped up: bilinear upsampling puts a mask
    pixel at most one model pixel away from a low-resolution component, so each box is padded
    by that much, then tightened to the mask pixels inside it. A final check at full resolution
    adds a box for any pixel left uncovered, so no person pixel can escape anonymization.
    """
    grown = _grow(margin, height, width, dilation_px)
    mask = cv2.resize(grown, (width, height), interpolation=cv2.INTER_LINEAR) > 0
    low = (grown > 0).view(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(low, connectivity=8)
    sy, sx = height / grown.shape[0], width / grown.shape[1]
    pad_y, pad_x = int(np.ceil(sy)) + 1, int(np.ceil(sx)) + 1
    mask8 = mask.view(np.uint8)
    covered = np.zeros_like(mask8)
    boxes: list[Box] = []
    for x, y, w, h, _ in stats[1:count]:
        x0, y0 = max(0, int(x * sx) - pad_x), max(0, int(y * sy) - pad_y)
        x1, y1 = (
            min(width, int(np.ceil((x + w) * sx)) + pad_x),
            min(height, int(np.ceil((y + h) * sy)) + pad_y),
        )
        box = _tight_box(mask8, x0, y0, x1, y1)
        if box is not None:
            boxes.append(box)
            covered[box.y : box.y + box.height, box.x : box.x + box.width] = 1
    uncovered = mask8 & (covered ^ 1)
    if uncovered.any():  # never expected; cheap insurance for privacy
        boxes.extend(person_regions(uncovered.astype(bool)))
    boxes.sort(key=lambda b: b.pixels, reverse=True)
    return mask, boxes


def person_regions(mask: np.ndarray) -> list[Box]:
    """Bounding boxes of the 8-connected components of a full-resolution mask, largest first."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    boxes = [Box(int(x), int(y), int(w), int(h), int(area)) for x, y, w, h, area in stats[1:count]]
    boxes.sort(key=lambda b: b.pixels, reverse=True)
    return boxes


def _grow(margin: np.ndarray, height: int, width: int, dilation_px: int) -> np.ndarray:
    """Grey-dilate the low-resolution margin by at least `dilation_px` image pixels on each axis.

    Each axis gets its own radius in model pixels (an elliptical kernel), so a long thin image
    does not blow the kernel up by its aspect ratio. A radius wider than the map is clamped to
    the map, with a rectangular kernel that covers everything the ellipse would reach inside
    it: the cost is bounded by the model's output size, never by the image's shape.
    """
    if dilation_px <= 0:
        return margin
    rows, cols = margin.shape[:2]
    ry = int(np.ceil(dilation_px * rows / height))
    rx = int(np.ceil(dilation_px * cols / width))
    if ry >= rows or rx >= cols:
        ry, rx = min(ry, rows - 1), min(rx, cols - 1)
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * rx + 1, 2 * ry + 1))
    else:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rx + 1, 2 * ry + 1))
    return cv2.dilate(margin, kernel, borderType=cv2.BORDER_REPLICATE)


def _tight_box(mask8: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> Box | None:
    roi = mask8[y0:y1, x0:x1]
    pixels = cv2.countNonZero(roi)
    if pixels == 0:
        return None
    x, y, w, h = cv2.boundingRect(roi)
    return Box(x0 + x, y0 + y, w, h, int(pixels))


def _single_channel(scores: np.ndarray) -> np.ndarray:
    if scores.ndim == 3 and scores.shape[0] == 1:
        return scores[0]
    if scores.ndim == 3 and scores.shape[-1] == 1:
        return scores[:, :, 0]
    if scores.ndim == 2:
        return scores
    raise PredictorUnavailable(f"output shape {scores.shape} is not one score map")
