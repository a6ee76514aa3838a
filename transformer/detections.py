"""Detector output → boxes in frame pixels: score cut, tile mapping, NMS across tiles, margins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from transformer.errors import PredictorUnavailable
from transformer.tiling import TilePlan, to_frame_boxes

NMS_IOU = 0.5


@dataclass(frozen=True, slots=True)
class Detection:
    """One object found by a detector, in frame pixels (x1, y1 exclusive)."""

    role: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def frame_detections(
    output: np.ndarray, plan: TilePlan, role: str, score_threshold: float
) -> list[Detection]:
    """The detections of one tiled request (N×K×5, normalised per tile), merged across tiles."""
    rows = np.asarray(output, dtype=np.float32)
    if rows.ndim != 3 or rows.shape[0] != len(plan.tiles) or rows.shape[2] != 5:
        raise PredictorUnavailable(
            f"detector output has shape {rows.shape}, not {len(plan.tiles)}×K×5"
        )
    if not np.isfinite(rows).all():
        raise PredictorUnavailable("the detector returned non-finite boxes")
    boxes = to_frame_boxes(rows[..., :4], plan)
    scores = rows[..., 4]
    keep = scores >= score_threshold
    boxes, scores = boxes[keep], scores[keep]
    if len(scores) == 0:
        return []
    return non_max_suppression(
        [
            Detection(role, float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(s))
            for b, s in zip(boxes, scores, strict=True)
        ]
    )


def non_max_suppression(detections: Sequence[Detection], iou: float = NMS_IOU) -> list[Detection]:
    """Greedy NMS, highest score first, each kept box widened to the union of those it
    suppresses; boxes of no area are dropped.

    Tiles and pyramid levels see the same person several times, and a tile that cuts a person
    (or a small person's box regression) can score highest with a box that misses the head. For
    privacy the merged box covers everything any of its duplicates saw, at the best score.
    (OpenCV's `NMSBoxes` would keep the best box only, and drops scores at or under its
    threshold, which must be >= 0 in OpenCV 5: the score cut is the caller's.)
    """
    kept = sorted((d for d in detections if d.width > 0 and d.height > 0), key=lambda d: -d.score)
    if not kept:
        return []
    boxes = np.array([(d.x0, d.y0, d.x1, d.y1) for d in kept], np.float64)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    alive = np.ones(len(kept), bool)
    chosen: list[Detection] = []
    for i in range(len(kept)):
        if not alive[i]:
            continue
        ix = np.clip(
            np.minimum(boxes[i, 2], boxes[:, 2]) - np.maximum(boxes[i, 0], boxes[:, 0]), 0, None
        )
        iy = np.clip(
            np.minimum(boxes[i, 3], boxes[:, 3]) - np.maximum(boxes[i, 1], boxes[:, 1]), 0, None
        )
        inter = ix * iy
        overlap = inter / (areas[i] + areas - inter)
        merged = alive & (overlap > iou)
        merged[i] = True
        x0, y0 = boxes[merged, 0].min(), boxes[merged, 1].min()
        x1, y1 = boxes[merged, 2].max(), boxes[merged, 3].max()
        chosen.append(
            Detection(kept[i].role, float(x0), float(y0), float(x1), float(y1), kept[i].score)
        )
        alive &= ~merged
    return chosen


def grown(
    detection: Detection, margin: float, height: int, width: int
) -> tuple[int, int, int, int]:
    """The detection grown by `margin` of its longer side on every side, clipped, as int
    x0, y0, x1, y1.

    The margin hides what a tight box leaves: hair, ears, an arm, the box regression's error.
    It follows the longer side because what sticks out of a standing person's narrow box (the
    back of the head, an arm held out) scales with the person's height, not the box's width:
    on real CCTV frames (`make eval-cctv`) a margin of 10 % of a 17-px width left the hair of
    68-px people showing.
    """
    dx = dy = max(detection.width, detection.height) * margin
    return (
        max(0, int(np.floor(detection.x0 - dx))),
        max(0, int(np.floor(detection.y0 - dy))),
        min(width, int(np.ceil(detection.x1 + dx))),
        min(height, int(np.ceil(detection.y1 + dy))),
    )
