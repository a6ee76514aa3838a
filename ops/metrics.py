"""How a candidate's result for one image differs from the live one, and the aggregate verdict.

Pure functions over masks (boolean arrays) and plain numbers: the S3 side lives in `records.py`.
Privacy loss is the figure that decides: the share of the pixels the live model anonymizes that
the candidate would leave visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

# What happened to the image on each side: a record with status anonymized / failed, or none.
Status = Literal["anonymized", "failed", "missing"]


@dataclass(frozen=True, slots=True)
class MaskComparison:
    iou: float
    privacy_loss: float  # share of live person pixels the candidate leaves unmasked
    over_masking: float  # candidate-only pixels as a share of the frame
    live_pixels: int
    candidate_pixels: int


def compare_masks(live: np.ndarray, candidate: np.ndarray) -> MaskComparison:
    """IoU, privacy loss and over-masking of two person masks of one frame.

    Two empty masks agree perfectly (IoU 1); an empty live mask leaves nothing to lose.
    """
    if live.shape != candidate.shape:
        raise ValueError(f"mask shapes differ: live {live.shape}, candidate {candidate.shape}")
    if live.size == 0:
        raise ValueError("empty masks")
    live, candidate = live.astype(bool), candidate.astype(bool)
    both = int(np.count_nonzero(live & candidate))
    either = int(np.count_nonzero(live | candidate))
    live_px = int(np.count_nonzero(live))
    candidate_px = int(np.count_nonzero(candidate))
    return MaskComparison(
        iou=both / either if either else 1.0,
        privacy_loss=(live_px - both) / live_px if live_px else 0.0,
        over_masking=(candidate_px - both) / live.size,
        live_pixels=live_px,
        candidate_pixels=candidate_px,
    )


@dataclass(frozen=True, slots=True)
class ImageComparison:
    """One image as both sides saw it. Mask figures are None unless both anonymized it."""

    tenant: str
    image_id: str
    live_status: Status
    candidate_status: Status
    masks: MaskComparison | None = None
    region_delta: int | None = None  # candidate person regions − live person regions
    latency_delta_ms: float | None = None  # candidate total − live total
    reason: str | None = None  # why the candidate has no usable result

    @property
    def new_failure(self) -> bool:
        """The live model anonymized the image and the candidate did not."""
        return self.live_status == "anonymized" and self.candidate_status != "anonymized"

    @property
    def status_mismatch(self) -> bool:
        return (self.live_status == "anonymized") != (self.candidate_status == "anonymized")


def status_of(record: dict[str, object] | None) -> Status:
    if record is None:
        return "missing"
    return "anonymized" if record.get("status") == "anonymized" else "failed"


def region_delta(live: dict[str, object], candidate: dict[str, object]) -> int:
    return len(_list(candidate.get("person_regions"))) - len(_list(live.get("person_regions")))


def latency_delta_ms(live: dict[str, object], candidate: dict[str, object]) -> float | None:
    live_ms = _total_ms(live)
    candidate_ms = _total_ms(candidate)
    if live_ms is None or candidate_ms is None:
        return None
    return candidate_ms - live_ms


def _total_ms(record: dict[str, object]) -> float | None:
    timings = record.get("timings_ms")
    if not isinstance(timings, dict) or "total" not in timings:
        return None
    return float(timings["total"])


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int
    mean: float
    p5: float
    p50: float
    p95: float
    min: float
    max: float


def distribution(values: Sequence[float]) -> Distribution | None:
    """Mean and percentiles (linear interpolation, numpy's default); None without values."""
    if not values:
        return None
    data = np.asarray(values, dtype=np.float64)
    p5, p50, p95 = (float(v) for v in np.percentile(data, [5, 50, 95]))
    return Distribution(
        count=len(values),
        mean=float(data.mean()),
        p5=p5,
        p50=p50,
        p95=p95,
        min=float(data.min()),
        max=float(data.max()),
    )


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a candidate may be promoted. The defaults are the safe ones."""

    max_p95_privacy_loss: float = 0.005
    max_new_failures: int = 0
    max_p95_over_masking: float = 0.05
    min_images: int = 30

    def __post_init__(self) -> None:
        if not 0 <= self.max_p95_privacy_loss <= 1 or not 0 <= self.max_p95_over_masking <= 1:
            raise ValueError("privacy loss and over-masking limits are shares in [0, 1]")
        if self.max_new_failures < 0 or self.min_images < 1:
            raise ValueError("max_new_failures must be >= 0 and min_images >= 1")


@dataclass(frozen=True, slots=True)
class Summary:
    images: int  # images the live model has a record of in the window
    compared: int  # images both sides anonymized (mask figures come from these)
    new_failures: int
    fixed_failures: int  # live failed, candidate anonymized
    both_failed: int
    iou: Distribution | None
    privacy_loss: Distribution | None
    over_masking: Distribution | None
    region_delta: Distribution | None
    latency_delta_ms: Distribution | None


@dataclass(frozen=True, slots=True)
class Verdict:
    promote: bool
    reasons: list[str] = field(default_factory=list)


def summarize(images: Sequence[ImageComparison]) -> Summary:
    compared = [i for i in images if i.masks is not None]
    masks = [i.masks for i in compared if i.masks is not None]
    return Summary(
        images=len(images),
        compared=len(compared),
        new_failures=sum(i.new_failure for i in images),
        fixed_failures=sum(
            i.live_status != "anonymized" and i.candidate_status == "anonymized" for i in images
        ),
        both_failed=sum(
            i.live_status != "anonymized" and i.candidate_status != "anonymized" for i in images
        ),
        iou=distribution([m.iou for m in masks]),
        privacy_loss=distribution([m.privacy_loss for m in masks]),
        over_masking=distribution([m.over_masking for m in masks]),
        region_delta=distribution(
            [float(i.region_delta) for i in compared if i.region_delta is not None]
        ),
        latency_delta_ms=distribution(
            [i.latency_delta_ms for i in compared if i.latency_delta_ms is not None]
        ),
    )


def decide(summary: Summary, thresholds: Thresholds) -> Verdict:
    """Promote only when every rule holds; each broken rule is one reason, privacy first."""
    reasons = []
    loss = summary.privacy_loss
    if loss is not None and loss.p95 > thresholds.max_p95_privacy_loss:
        reasons.append(
            f"privacy loss: p95 {loss.p95:.2%} of live person pixels left unmasked "
            f"(limit {thresholds.max_p95_privacy_loss:.2%}; worst image {loss.max:.2%})"
        )
    if summary.new_failures > thresholds.max_new_failures:
        reasons.append(
            f"failures: the candidate failed or produced no result on {summary.new_failures} "
            f"image(s) the live model anonymized (limit {thresholds.max_new_failures})"
        )
    over = summary.over_masking
    if over is not None and over.p95 > thresholds.max_p95_over_masking:
        reasons.append(
            f"over-masking: p95 {over.p95:.2%} of the frame masked by the candidate only "
            f"(limit {thresholds.max_p95_over_masking:.2%})"
        )
    if summary.images < thresholds.min_images:
        reasons.append(
            f"too few images: {summary.images} in the window, at least "
            f"{thresholds.min_images} needed for a decision"
        )
    elif summary.compared == 0:
        reasons.append("no image was anonymized by both models: nothing to compare")
    return Verdict(promote=not reasons, reasons=reasons)


def worst(images: Sequence[ImageComparison], count: int) -> list[ImageComparison]:
    """The largest disagreements: new failures first, then by privacy loss, then by IoU."""

    def badness(image: ImageComparison) -> tuple[int, float, float]:
        if image.masks is None:
            return (1 if image.new_failure else 0, 0.0, 0.0)
        return (0, image.masks.privacy_loss, 1.0 - image.masks.iou)

    ranked = sorted(images, key=badness, reverse=True)
    return [i for i in ranked if badness(i) != (0, 0.0, 0.0)][:count]
