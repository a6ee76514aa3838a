"""Several models → one person mask: the segmenter's pixels ∪ person boxes ∪ face boxes.

Each model is asked for what it finds in its own way (the segmenter on the whole frame, each
detector on the tiles of an image pyramid), and the union is what gets anonymized. Faces are
covered whatever the segmenter says, and get the strongest obfuscation (see anonymize.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from transformer.detections import Detection, frame_detections, grown
from transformer.model_contract import ModelContract
from transformer.postprocess import (
    Box,
    default_dilation_px,
    person_margin,
    person_mask_and_regions,
    person_regions,
)
from transformer.preprocess import to_input_tensor, to_model_tensor
from transformer.tiling import TilePlan, plan_tiles, tile_batch

_SMALLEST_GROWTH = 1.25


TILES_PER_REQUEST = 8  # a 4K frame has hundreds of tiles: build and send them a few at a time


@dataclass(frozen=True, slots=True)
class ModelInput:
    """What one model is sent for one frame; `plan` is set for detectors (their tiles).

    A detector's tiles are made batch by batch as they are sent (`batches`), so a frame's
    hundreds of float tiles (gigabytes for a 4K frame) never exist at once.
    """

    contract: ModelContract
    frame: np.ndarray
    plan: TilePlan | None = None
    smallest_px: float | None = None  # the smallest object height (frame px) the tiles find

    @property
    def count(self) -> int:
        return 1 if self.plan is None else len(self.plan.tiles)

    def batches(self) -> Iterator[np.ndarray]:
        if self.plan is None:
            yield to_input_tensor(self.frame, self.contract)
            return
        size = min(TILES_PER_REQUEST, self.contract.max_batch_size or TILES_PER_REQUEST)
        for start in range(0, len(self.plan.tiles), size):
            part = TilePlan(
                self.plan.tiles[start : start + size], self.plan.model_height, self.plan.model_width
            )
            yield to_model_tensor(tile_batch(self.frame, part), self.contract)


@dataclass(frozen=True, slots=True)
class Composition:
    """The union mask, boxes covering every mask pixel, and the faces to hide hardest."""

    mask: np.ndarray
    regions: list[Box]
    faces: list[tuple[int, int, int, int]] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    dilation_px: int = 0


@dataclass(frozen=True, slots=True)
class CompositionOptions:
    threshold: float
    dilation_px: int | None
    person_box_margin: float
    face_box_margin: float
    confirm_segments: bool = True


def model_input(
    rgb: np.ndarray, contract: ModelContract, smallest_px: float, max_tiles: int
) -> ModelInput:
    """The segmenter sees the whole frame once; a detector sees a pyramid of tiles.

    A frame that would need more than `max_tiles` tiles is searched from a coarser first level
    (`smallest_px` grows); the size actually searched for is recorded with the result.
    """
    if not contract.is_detector:
        return ModelInput(contract, rgb)
    height, width = rgb.shape[:2]
    while True:
        plan = plan_tiles(
            height,
            width,
            contract.height,
            contract.width,
            min_object_px=contract.min_object_px,
            smallest_px=smallest_px,
        )
        if len(plan.tiles) <= max_tiles:
            break
        smallest_px *= _SMALLEST_GROWTH
    return ModelInput(contract, rgb, plan, smallest_px)


def compose(
    inputs: Sequence[ModelInput],
    outputs: Sequence[np.ndarray],
    height: int,
    width: int,
    options: CompositionOptions,
) -> Composition:
    """The union of every model's findings at full resolution, and the boxes that cover it."""
    segmenter = next(
        ((i, o) for i, o in zip(inputs, outputs, strict=True) if not i.contract.is_detector),
        None,
    )
    detections: list[Detection] = []
    for model_in, output in zip(inputs, outputs, strict=True):
        if model_in.plan is not None:
            detections += frame_detections(
                output, model_in.plan, model_in.contract.role, model_in.contract.score_threshold
            )
    dilation = options.dilation_px or 0
    if segmenter is not None:
        contract = segmenter[0].contract
        if options.dilation_px is None:
            dilation = default_dilation_px(height, width, contract)
        margin = person_margin(segmenter[1], contract, options.threshold)
        mask, regions = person_mask_and_regions(margin, height, width, dilation)
    else:
        mask, regions = np.zeros((height, width), bool), []
    detectors_ran = any(i.plan is not None for i in inputs)
    if not detectors_ran:
        return Composition(mask, regions, dilation_px=dilation)
    boxes = [
        grown(
            found,
            options.face_box_margin if found.role == "face_detector" else options.person_box_margin,
            height,
            width,
        )
        for found in detections
    ]
    if segmenter is not None and options.confirm_segments:
        mask = confirmed_segments(mask, boxes)
    faces: list[tuple[int, int, int, int]] = []
    for found, (x0, y0, x1, y1) in zip(detections, boxes, strict=True):
        if x1 > x0 and y1 > y0:
            mask[y0:y1, x0:x1] = True
            if found.role == "face_detector":
                faces.append((x0, y0, x1, y1))
    return Composition(mask, person_regions(mask), faces, detections, dilation)


def confirmed_segments(mask: np.ndarray, boxes: Sequence[tuple[int, int, int, int]]) -> np.ndarray:
    """The segmenter's connected regions that touch a detection (grown box); the rest dropped.

    The selfie segmenter sees people in gravel, scaffolding and concrete textures (up to a third
    of a person-free site frame); a detector that ran and saw no one there overrules it. Where a
    detector did find someone, the segmenter's pixels add the silhouette the box cuts off.
    """
    if not mask.any():
        return mask
    count, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    for x0, y0, x1, y1 in boxes:
        keep[np.unique(labels[y0:y1, x0:x1])] = True
    keep[0] = False
    return keep[labels]
