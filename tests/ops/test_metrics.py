"""The comparison's figures on hand-made masks, and the verdict's rules."""

from __future__ import annotations

import numpy as np
import pytest

from ops.metrics import (
    ImageComparison,
    MaskComparison,
    Thresholds,
    compare_masks,
    decide,
    distribution,
    latency_delta_ms,
    region_delta,
    summarize,
    worst,
)


def box(shape: tuple[int, int], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_identical_masks_agree_perfectly() -> None:
    live = box((10, 10), 2, 6, 2, 6)
    result = compare_masks(live, live.copy())
    assert result == MaskComparison(1.0, 0.0, 0.0, 16, 16)


def test_a_candidate_that_finds_nothing_loses_every_person_pixel() -> None:
    live = box((10, 10), 0, 5, 0, 10)
    result = compare_masks(live, np.zeros_like(live))
    assert (result.iou, result.privacy_loss, result.over_masking) == (0.0, 1.0, 0.0)


def test_half_the_person_left_visible_is_half_privacy_loss() -> None:
    live = box((10, 10), 0, 4, 0, 10)  # 40 px
    candidate = box((10, 10), 0, 2, 0, 10)  # the top 20 px of them
    result = compare_masks(live, candidate)
    assert result.privacy_loss == pytest.approx(0.5)
    assert result.iou == pytest.approx(0.5)
    assert result.over_masking == 0.0


def test_masking_more_is_over_masking_not_privacy_loss() -> None:
    live = box((10, 10), 0, 2, 0, 10)  # 20 px
    candidate = box((10, 10), 0, 4, 0, 10)  # those and 20 more
    result = compare_masks(live, candidate)
    assert result.privacy_loss == 0.0
    assert result.over_masking == pytest.approx(0.2)  # 20 of 100 frame pixels
    assert result.iou == pytest.approx(0.5)


def test_two_empty_masks_agree_and_lose_nothing() -> None:
    empty = np.zeros((4, 4), bool)
    assert compare_masks(empty, empty) == MaskComparison(1.0, 0.0, 0.0, 0, 0)


def test_masks_of_different_frames_are_refused() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        compare_masks(np.zeros((4, 4), bool), np.zeros((4, 5), bool))


def test_region_and_latency_deltas_come_from_the_records() -> None:
    live = {"person_regions": [{}, {}], "timings_ms": {"total": 100.0}}
    candidate = {"person_regions": [{}], "timings_ms": {"total": 130.5}}
    assert region_delta(live, candidate) == -1
    assert latency_delta_ms(live, candidate) == pytest.approx(30.5)
    assert latency_delta_ms(live, {"timings_ms": {}}) is None


def test_distribution_percentiles() -> None:
    d = distribution([float(v) for v in range(101)])
    assert d is not None
    assert (d.mean, d.p5, d.p50, d.p95, d.min, d.max) == (50.0, 5.0, 50.0, 95.0, 0.0, 100.0)
    assert distribution([]) is None


def _image(n: int, *, loss: float = 0.0, candidate: str = "anonymized") -> ImageComparison:
    masks = None
    if candidate == "anonymized":
        masks = MaskComparison(1.0 - loss, loss, 0.0, 100, round(100 * (1 - loss)))
    return ImageComparison("t", f"img-{n}", "anonymized", candidate, masks=masks, region_delta=0)  # type: ignore[arg-type]


def test_a_clean_candidate_is_promoted() -> None:
    images = [_image(n) for n in range(30)]
    verdict = decide(summarize(images), Thresholds())
    assert verdict.promote and verdict.reasons == []


def test_privacy_loss_above_the_limit_at_p95_rejects() -> None:
    # 2 of 30 images lose 10 %: above p95 (the 28.55th value), so p95 > 0.5 %
    images = [_image(n) for n in range(28)] + [_image(28, loss=0.1), _image(29, loss=0.1)]
    verdict = decide(summarize(images), Thresholds())
    assert not verdict.promote
    assert verdict.reasons[0].startswith("privacy loss: p95")


def test_one_new_failure_rejects_and_says_how_many() -> None:
    images = [_image(n) for n in range(29)] + [_image(29, candidate="missing")]
    summary = summarize(images)
    assert summary.new_failures == 1
    verdict = decide(summary, Thresholds())
    assert not verdict.promote
    assert verdict.reasons == [
        "failures: the candidate failed or produced no result on 1 image(s) the live model "
        "anonymized (limit 0)"
    ]


def test_too_few_images_is_no_evidence() -> None:
    verdict = decide(summarize([_image(n) for n in range(5)]), Thresholds())
    assert not verdict.promote
    assert verdict.reasons[0].startswith("too few images: 5")


def test_a_failure_the_live_model_also_had_is_not_new() -> None:
    both = ImageComparison("t", "x", "failed", "failed")
    fixed = ImageComparison("t", "y", "failed", "anonymized")
    summary = summarize([both, fixed])
    assert (summary.new_failures, summary.both_failed, summary.fixed_failures) == (0, 1, 1)


def test_worst_lists_failures_first_then_privacy_loss_and_skips_perfect_images() -> None:
    images = [_image(0), _image(1, loss=0.2), _image(2, candidate="failed"), _image(3, loss=0.5)]
    assert [i.image_id for i in worst(images, 10)] == ["img-2", "img-3", "img-1"]


@pytest.mark.parametrize(
    "kwargs", [{"max_p95_privacy_loss": 1.5}, {"max_new_failures": -1}, {"min_images": 0}]
)
def test_impossible_thresholds_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Thresholds(**kwargs)  # type: ignore[arg-type]
