"""Tiling: every object from the smallest size searched for to the whole frame lies wholly in a tile
where it is at least as tall as the detector's smallest reliable object."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer.tiling import (
    MAX_UPSCALE,
    axis_starts,
    plan_tiles,
    pyramid_scales,
    tile_batch,
    to_frame_boxes,
)

frames = st.tuples(st.integers(64, 4320), st.integers(64, 7680))


@given(st.integers(1, 8000), st.integers(1, 1024), st.integers(0, 512))
def test_axis_windows_cover_the_extent_and_overlap(extent: int, window: int, overlap: int) -> None:
    overlap = min(overlap, window - 1) if window > 1 else 0
    starts = axis_starts(extent, window, overlap)
    assert starts[0] == 0
    assert min(extent, starts[-1] + window) == extent  # the last window reaches the edge
    for a, b in zip(starts, starts[1:], strict=False):
        assert 0 < b - a <= window - overlap or window >= extent


@settings(max_examples=60, deadline=None)
@given(frames, st.sampled_from([(24, 40), (12, 24), (16, 16), (40, 40)]))
def test_pyramid_goes_from_the_smallest_object_to_the_whole_frame(
    frame: tuple[int, int], sizes: tuple[int, int]
) -> None:
    height, width = frame
    min_object, smallest = sizes
    scales = pyramid_scales(height, width, 512, min_object, smallest)
    assert scales == sorted(scales, reverse=True)
    assert scales[-1] * max(height, width) == pytest.approx(512)  # last level: one tile
    assert scales[0] == pytest.approx(max(min(min_object / smallest, MAX_UPSCALE), scales[-1]))


@settings(max_examples=60, deadline=None)
@given(
    frames,
    st.sampled_from([(24, 40), (12, 24), (16, 16)]),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0.3, 1.0),
)
def test_every_object_lies_wholly_in_a_tile_big_enough_to_find_it(
    frame: tuple[int, int],
    sizes: tuple[int, int],
    fy: float,
    fx: float,
    fsize: float,
    aspect: float,
) -> None:
    height, width = frame
    min_object, smallest = sizes
    plan = plan_tiles(height, width, 512, 512, min_object_px=min_object, smallest_px=smallest)
    tall = smallest + fsize * (height - smallest) if height > smallest else height
    wide = max(1.0, min(width, tall * aspect))
    y0 = fy * (height - tall)
    x0 = fx * (width - wide)
    found = [
        t
        for t in plan.tiles
        if t.x <= x0
        and t.y <= y0
        and x0 + wide <= t.x + t.width
        and y0 + tall <= t.y + t.height
        and tall * t.scale >= min_object - 1e-6
    ]
    assert found, f"a {tall:.0f}×{wide:.0f} object at ({x0:.0f}, {y0:.0f}) is in no usable tile"


def test_tiles_stay_inside_the_frame_and_fit_the_model() -> None:
    plan = plan_tiles(2160, 3840, 512, 512, min_object_px=24, smallest_px=40)
    for t in plan.tiles:
        assert 0 <= t.x and t.x + t.width <= 3840 and 0 <= t.y and t.y + t.height <= 2160
        assert round(t.width * t.scale) <= 512 and round(t.height * t.scale) <= 512
    # a 4K frame searched for 40-px people by a 512² detector: a few dozen tiles, not hundreds
    assert 10 <= len(plan.tiles) <= 40


def test_tile_batch_holds_each_window_at_its_scale_padded_with_zeros() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (300, 500, 3), np.uint8)
    plan = plan_tiles(300, 500, 128, 128, min_object_px=16, smallest_px=16)
    batch = tile_batch(frame, plan)
    assert batch.shape == (len(plan.tiles), 128, 128, 3) and batch.dtype == np.uint8
    full = next(i for i, t in enumerate(plan.tiles) if t.scale == pytest.approx(1.0))
    t = plan.tiles[full]
    assert np.array_equal(batch[full], frame[t.y : t.y + 128, t.x : t.x + 128])
    last = plan.tiles[-1]  # the whole frame, shrunk: 128×77, zeros below
    assert (last.width, last.height) == (500, 300)
    assert not batch[-1, 77:].any() and batch[-1, :76].any()


@given(st.floats(0, 0.9), st.floats(0, 0.9), st.floats(0.01, 0.1))
def test_boxes_map_back_to_frame_pixels(ny: float, nx: float, nsize: float) -> None:
    plan = plan_tiles(1080, 1920, 512, 512, min_object_px=24, smallest_px=40)
    boxes = np.zeros((len(plan.tiles), 1, 4), np.float32)
    boxes[:, 0] = (nx, ny, nx + nsize, ny + nsize)
    frame_boxes = to_frame_boxes(boxes, plan)
    for i, t in enumerate(plan.tiles):
        x0, y0, x1, y1 = frame_boxes[i, 0]
        assert x0 == pytest.approx(t.x + nx * 512 / t.scale, rel=1e-4)
        assert y1 == pytest.approx(t.y + (ny + nsize) * 512 / t.scale, rel=1e-4)
