"""Model outputs of every kind become the same full-resolution mask; bad outputs fail closed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer.errors import PredictorUnavailable
from transformer.model_contract import ModelContract
from transformer.postprocess import (
    default_dilation_px,
    person_margin,
    person_mask,
    person_mask_and_regions,
    person_regions,
)


def square(h: int = 64, w: int = 64) -> np.ndarray:
    area = np.zeros((h, w), bool)
    area[16:48, 8:40] = True
    return area


def test_probability_nhwc_and_nchw_agree(demo_contract: ModelContract) -> None:
    prob = np.where(square(), 0.9, 0.1).astype(np.float32)
    nhwc = person_margin(prob[None, :, :, None], demo_contract, 0.5)
    nchw = person_margin(prob[None, None], demo_contract, 0.5)
    assert np.array_equal(nhwc > 0, square()) and np.array_equal(nchw > 0, square())


def test_logits_compare_best_person_class_with_best_other(demo_contract: ModelContract) -> None:
    contract = dataclasses.replace(demo_contract, output_kind="logits", person_classes=(2, 3))
    logits = np.zeros((1, 5, 64, 64), np.float32)
    logits[0, 0] = 1.0  # background wins by default
    logits[0, 3][square()] = 2.0  # a person class wins in the square
    margin = person_margin(logits, contract, 0.5)
    assert np.array_equal(margin > 0, square())
    assert np.array_equal(margin > 0, np.isin(logits[0].argmax(0), [2, 3]))


def test_labels(demo_contract: ModelContract) -> None:
    contract = dataclasses.replace(demo_contract, output_kind="labels", person_classes=(7,))
    labels = np.where(square(), 7, 1).astype(np.int64)[None]
    assert np.array_equal(person_margin(labels, contract, 0.5) > 0, square())


def test_mask_is_upsampled_to_the_image_and_dilated(demo_contract: ModelContract) -> None:
    margin = person_margin(np.where(square(), 0.9, 0.1)[None, :, :, None], demo_contract, 0.5)
    mask = person_mask(margin, 640, 320, dilation_px=0)
    assert mask.shape == (640, 320)
    expected = square().repeat(10, 0).repeat(5, 1)
    assert (mask != expected).mean() < 0.01
    dilated = person_mask(margin, 640, 320, dilation_px=6)
    assert dilated[mask].all() and dilated.sum() > mask.sum()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_outputs_fail_closed(demo_contract: ModelContract, bad: float) -> None:
    prob = np.full((1, 64, 64, 1), 0.2, np.float32)
    prob[0, 3, 3, 0] = bad
    with pytest.raises(PredictorUnavailable, match="non-finite"):
        person_margin(prob, demo_contract, 0.5)


def test_wrong_output_shape_is_a_predictor_error(demo_contract: ModelContract) -> None:
    with pytest.raises(PredictorUnavailable, match="not one score map"):
        person_margin(np.zeros((1, 3, 64, 64), np.float32), demo_contract, 0.5)


def test_regions_are_connected_components_largest_first() -> None:
    mask = np.zeros((100, 100), bool)
    mask[10:20, 10:15] = True  # 50 px
    mask[50:90, 40:80] = True  # 1600 px
    boxes = person_regions(mask)
    assert [(b.x, b.y, b.width, b.height, b.pixels) for b in boxes] == [
        (40, 50, 40, 40, 1600),
        (10, 10, 5, 10, 50),
    ]
    assert person_regions(np.zeros((5, 5), bool)) == []


def test_default_dilation_scales_with_the_image(demo_contract: ModelContract) -> None:
    assert default_dilation_px(256, 256, demo_contract) == 2
    assert default_dilation_px(1080, 1920, demo_contract) == 15


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    height=st.integers(20, 1200),
    width=st.integers(20, 1200),
    dilation=st.integers(0, 20),
    density=st.floats(0.0, 0.2),
)
def test_every_mask_pixel_is_inside_a_region_box(
    seed: int, height: int, width: int, dilation: int, density: float
) -> None:
    """Privacy: anonymize() only touches boxes, so the boxes must cover the whole mask."""
    rng = np.random.default_rng(seed)
    margin = np.where(
        rng.random((64, 48)) < density, rng.random((64, 48)), -rng.random((64, 48))
    ).astype(np.float32)
    mask, boxes = person_mask_and_regions(margin, height, width, dilation)
    assert mask.shape == (height, width)
    assert np.array_equal(mask, person_mask(margin, height, width, dilation))
    covered = np.zeros_like(mask)
    for box in boxes:
        covered[box.y : box.y + box.height, box.x : box.x + box.width] = True
        assert box.pixels > 0
    assert not (mask & ~covered).any()


def test_low_resolution_regions_match_full_resolution_components(
    demo_contract: ModelContract,
) -> None:
    margin = np.full((64, 64), -1.0, np.float32)
    margin[10:20, 5:15] = 1.0
    margin[40:60, 30:50] = 1.0
    mask, boxes = person_mask_and_regions(margin, 640, 640, dilation_px=0)
    exact = person_regions(mask)
    assert [(b.x, b.y, b.width, b.height, b.pixels) for b in boxes] == [
        (b.x, b.y, b.width, b.height, b.pixels) for b in exact
    ]


def test_dilation_grows_the_mask_by_at_least_the_requested_pixels() -> None:
    margin = np.full((64, 64), -1.0, np.float32)
    margin[30:34, 30:34] = 1.0
    plain = person_mask(margin, 1280, 1280, 0)
    grown = person_mask(margin, 1280, 1280, 25)
    ys, xs = np.nonzero(plain)
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    assert grown[ys.min() - 25, cx] and grown[ys.max() + 25, cx]
    assert grown[cy, xs.min() - 25] and grown[cy, xs.max() + 25]


@pytest.mark.parametrize("height, width", [(1, 1), (20, 30000), (30000, 20), (20, 10000), (4, 4)])
def test_growth_kernel_never_exceeds_the_model_map(
    monkeypatch: pytest.MonkeyPatch, demo_contract: ModelContract, height: int, width: int
) -> None:
    """Issue 14 §1: a 30000×20 JPEG stalled a worker for 91 s because the dilation kernel grew
    with the aspect ratio (radius 3000 model pixels on a 256² map). The kernel is bounded by
    the map, so the cost is bounded by the model's output size whatever the image's shape."""
    import cv2

    sizes: list[tuple[int, int]] = []
    real = cv2.getStructuringElement

    def recording(shape: int, ksize: tuple[int, int]) -> np.ndarray:
        sizes.append(ksize)
        return real(shape, ksize)

    monkeypatch.setattr(cv2, "getStructuringElement", recording)
    margin = np.full((256, 256), -1.0, np.float32)
    margin[100:120, 100:120] = 1.0
    dilation = default_dilation_px(height, width, demo_contract)
    mask, boxes = person_mask_and_regions(margin, height, width, dilation)
    assert sizes and all(kx <= 2 * 256 - 1 and ky <= 2 * 256 - 1 for kx, ky in sizes)
    assert mask.shape == (height, width) and mask.any() and boxes


def test_dilation_of_a_thin_image_still_covers_the_radius_on_both_axes() -> None:
    margin = np.full((64, 64), -1.0, np.float32)
    margin[30:34, 30:34] = 1.0
    height, width = 200, 6000
    plain = person_mask(margin, height, width, 0)
    grown = person_mask(margin, height, width, 40)
    ys, xs = np.nonzero(plain)
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    assert grown[ys.min() - 40, cx] and grown[ys.max() + 40, cx]
    assert grown[cy, xs.min() - 40] and grown[cy, xs.max() + 40]


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160), (4000, 3000), (1917, 1083)])
def test_the_mask_upsampled_inside_boxes_is_the_full_frame_mask(size: tuple[int, int]) -> None:
    """A few people (the boxes cover well under half the frame, so only they are upsampled): the
    mask is pixel for pixel the full-frame upsampling's, on frame sizes whose scale from the
    256² map is a whole number, a fraction, or (1917×1083) neither."""
    width, height = size
    rng = np.random.default_rng(width)
    margin = np.full((256, 256), -0.5, np.float32)
    for y, x, r in [(60, 40, 30), (120, 150, 20), (200, 200, 8), (30, 220, 3), (250, 5, 4)]:
        yy, xx = np.ogrid[:256, :256]
        margin[(yy - y) ** 2 + (xx - x) ** 2 < r * r] = 0.5
    margin += rng.normal(0, 0.1, margin.shape).astype(np.float32)  # ragged, noisy edges
    mask, boxes = person_mask_and_regions(margin, height, width, 9)
    assert sum(b.width * b.height for b in boxes) < width * height // 2
    assert np.array_equal(mask, person_mask(margin, height, width, 9))
    covered = np.zeros_like(mask)
    for box in boxes:
        covered[box.y : box.y + box.height, box.x : box.x + box.width] = True
    assert mask.any() and not (mask & ~covered).any()
