"""Where a detector looks: an image pyramid of overlapping tiles chosen from frame and model size.

A detector with a fixed S×S input finds objects between `min_object_px` and `max_object_px` of
its input. To find objects as small as `smallest_px` in the frame, the first pyramid level scales
the frame by `min_object_px / smallest_px`; each further level is coarser until the whole frame
fits one tile. Tiles of a level overlap by a quarter of the tile, so an object up to S/4
model pixels lies wholly inside at least one tile; a larger one is whole, at between S/8 and S/4,
one level coarser, where it is still at least twice `min_object_px`. All functions are pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

MAX_UPSCALE = 4.0
_OVERLAP_FRACTION = 0.25


@dataclass(frozen=True, slots=True)
class Tile:
    """A window of the frame, in frame pixels, fed to the model as one S×S input at `scale`."""

    x: int
    y: int
    width: int
    height: int
    scale: float  # model pixels per frame pixel


@dataclass(frozen=True, slots=True)
class TilePlan:
    tiles: tuple[Tile, ...]
    model_height: int
    model_width: int


def pyramid_scales(
    frame_height: int,
    frame_width: int,
    model_size: int,
    min_object_px: float,
    smallest_px: float,
) -> list[float]:
    """Scales from fine to coarse; the first makes `smallest_px` objects `min_object_px` tall.

    An object too large to lie wholly in a tile of level k (over S/4 model pixels) must be at
    least 2 × `min_object_px` at level k+1, so each level is coarser by 8 × min_object_px / S
    (at most a half); the last level is the whole frame in one tile.
    """
    if min(frame_height, frame_width, model_size) <= 0 or min_object_px <= 0 or smallest_px <= 0:
        raise ValueError("frame, model and object sizes must be positive")
    fit = model_size / max(frame_height, frame_width)  # the whole frame in one tile
    step = min(0.5, 8 * min_object_px / model_size)
    scale = min(min_object_px / smallest_px, MAX_UPSCALE)
    scales: list[float] = []
    while scale > fit * 1.0001:
        scales.append(scale)
        scale *= step
    scales.append(fit)
    return scales


def axis_starts(extent: int, window: int, overlap: int) -> list[int]:
    """Window starts covering [0, extent) with at least `overlap` shared between neighbours."""
    if window >= extent:
        return [0]
    stride = max(1, window - overlap)
    count = math.ceil((extent - window) / stride) + 1
    step = (extent - window) / (count - 1)  # spread evenly: the last window ends at the edge
    return [round(i * step) for i in range(count)]


def plan_tiles(
    frame_height: int,
    frame_width: int,
    model_height: int,
    model_width: int,
    *,
    min_object_px: float,
    smallest_px: float,
) -> TilePlan:
    """Every tile of every pyramid level, fine to coarse."""
    model_size = min(model_height, model_width)
    tiles: list[Tile] = []
    for scale in pyramid_scales(frame_height, frame_width, model_size, min_object_px, smallest_px):
        win_h = min(frame_height, math.floor(model_height / scale))
        win_w = min(frame_width, math.floor(model_width / scale))
        overlap_h = round(win_h * _OVERLAP_FRACTION)
        overlap_w = round(win_w * _OVERLAP_FRACTION)
        for y in axis_starts(frame_height, win_h, overlap_h):
            for x in axis_starts(frame_width, win_w, overlap_w):
                tiles.append(Tile(x, y, win_w, win_h, scale))
    return TilePlan(tuple(tiles), model_height, model_width)


def tile_batch(rgb: np.ndarray, plan: TilePlan) -> np.ndarray:
    """N×S×S×3 uint8: each tile resized by its scale into the top-left corner, zero padding."""
    batch = np.zeros((len(plan.tiles), plan.model_height, plan.model_width, 3), np.uint8)
    for i, tile in enumerate(plan.tiles):
        window = rgb[tile.y : tile.y + tile.height, tile.x : tile.x + tile.width]
        out_w = min(plan.model_width, max(1, round(tile.width * tile.scale)))
        out_h = min(plan.model_height, max(1, round(tile.height * tile.scale)))
        shrinking = out_w < tile.width
        batch[i, :out_h, :out_w] = cv2.resize(
            window,
            (out_w, out_h),
            interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR,
        )
    return batch


def to_frame_boxes(boxes: np.ndarray, plan: TilePlan) -> np.ndarray:
    """Map per-tile boxes normalised to the model input (N×K×4) to frame pixels (N×K×4)."""
    scales = np.array([t.scale for t in plan.tiles], np.float32)[:, None]
    offsets_x = np.array([t.x for t in plan.tiles], np.float32)[:, None]
    offsets_y = np.array([t.y for t in plan.tiles], np.float32)[:, None]
    out = np.empty_like(boxes, dtype=np.float32)
    out[..., 0] = boxes[..., 0] * plan.model_width / scales + offsets_x
    out[..., 2] = boxes[..., 2] * plan.model_width / scales + offsets_x
    out[..., 1] = boxes[..., 1] * plan.model_height / scales + offsets_y
    out[..., 3] = boxes[..., 3] * plan.model_height / scales + offsets_y
    return out
