"""Model outputs of every kind become the same full-resolution mask; bad outputs fail closed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from transformer.errors import PredictorUnavailable
from transformer.model_contract import ModelContract
from transformer.postprocess import (
    default_dilation_px,
    person_margin,
    person_mask,
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
        (40, 50, 40, 40, 1600), (10, 10, 5, 10, 50)]
    assert person_regions(np.zeros((5, 5), bool)) == []


def test_default_dilation_scales_with_the_image(demo_contract: ModelContract) -> None:
    assert default_dilation_px(256, 256, demo_contract) == 2
    assert default_dilation_px(1080, 1920, demo_contract) == 15
