"""The shadow report: `report.md`, a self-contained `report.html` and `verdict.json`.

The HTML carries everything inline (base64 JPEG thumbnails, an SVG histogram): one file an
operator can attach to a change request. Thumbnails are made from the anonymized images only,
with both masks drawn over them; an original upload is never read, and on the candidate's image
the pixels it failed to mask (where the live model did) are painted over, never shown.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
from PIL import Image

from ops.metrics import Distribution, ImageComparison, Summary, Thresholds, Verdict

# Overlay colours: what only the live model masks (the candidate would leave it visible), what
# only the candidate masks, and what both mask.
LIVE_ONLY = (230, 30, 30)
CANDIDATE_ONLY = (30, 110, 255)
BOTH = (40, 190, 90)
THUMB_HEIGHT = 180


@dataclass(frozen=True, slots=True)
class ReportContext:
    live: str  # "<model>/<version>" of the live records (from the records themselves)
    candidate: str  # "<model>/<version>" of the shadow results
    bucket: str
    tenant: str | None
    since: datetime
    until: datetime
    generated_at: datetime


@dataclass(frozen=True, slots=True)
class Thumbnail:
    tenant: str
    image_id: str
    live_jpeg: bytes | None
    candidate_jpeg: bytes | None


def overlay(
    anonymized: bytes,
    live: np.ndarray,
    candidate: np.ndarray,
    *,
    side: Literal["live", "candidate"] = "live",
) -> bytes:
    """A JPEG thumbnail of one side's anonymized image with both masks blended over it.

    On the candidate's image the pixels only the live model masks are painted over opaque: the
    candidate left them visible, and the report must not show a person the live model hides.
    """
    with Image.open(io.BytesIO(anonymized)) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32).copy()
    if rgb.shape[:2] != live.shape or live.shape != candidate.shape:
        raise ValueError("image and masks differ in size")
    live_only_alpha = 1.0 if side == "candidate" else 0.7
    for where, colour, alpha in (
        (live & candidate, BOTH, 0.35),
        (live & ~candidate, LIVE_ONLY, live_only_alpha),
        (candidate & ~live, CANDIDATE_ONLY, 0.55),
    ):
        rgb[where] = rgb[where] * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    thumb = Image.fromarray(rgb.clip(0, 255).astype(np.uint8))
    thumb.thumbnail((THUMB_HEIGHT * 4, THUMB_HEIGHT))
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def histogram(values: Sequence[float], bins: int = 10) -> list[int]:
    counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=bins, range=(0.0, 1.0))
    return [int(c) for c in counts]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _num(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:+.1f}{unit}" if unit else f"{value:.3f}"


def _dist_row(
    name: str, dist: Distribution | None, fmt: Callable[[float | None], str]
) -> list[str]:
    if dist is None:
        return [name, "–", "–", "–", "–", "–"]
    return [name, fmt(dist.mean), fmt(dist.p5), fmt(dist.p50), fmt(dist.p95), fmt(dist.max)]


def aggregate_rows(summary: Summary) -> list[list[str]]:
    return [
        _dist_row("mask IoU", summary.iou, _num),
        _dist_row("privacy loss", summary.privacy_loss, _pct),
        _dist_row("over-masking", summary.over_masking, _pct),
        _dist_row("region count delta", summary.region_delta, lambda v: _num(v, " ")),
        _dist_row("latency delta (ms)", summary.latency_delta_ms, lambda v: _num(v, " ms")),
    ]


AGGREGATE_HEADER = ["figure", "mean", "p5", "p50", "p95", "max"]
IMAGE_HEADER = [
    "tenant/image",
    "live",
    "candidate",
    "IoU",
    "privacy loss",
    "over-masking",
    "Δ regions",
    "Δ ms",
]


def image_row(image: ImageComparison) -> list[str]:
    m = image.masks
    return [
        f"{image.tenant}/{image.image_id}",
        image.live_status,
        image.candidate_status,
        _num(m.iou) if m else "–",
        _pct(m.privacy_loss) if m else "–",
        _pct(m.over_masking) if m else "–",
        str(image.region_delta) if image.region_delta is not None else "–",
        _num(image.latency_delta_ms, " ms").strip() if image.latency_delta_ms is not None else "–",
    ]


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table for the terminal."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def verdict_document(
    context: ReportContext,
    summary: Summary,
    verdict: Verdict,
    thresholds: Thresholds,
    images: Sequence[ImageComparison],
    worst: Sequence[ImageComparison],
) -> dict[str, Any]:
    """verdict.json: the decision, its reasons, the figures it rests on."""
    return {
        "promote": verdict.promote,
        "reasons": verdict.reasons,
        "live": context.live,
        "candidate": context.candidate,
        "bucket": context.bucket,
        "tenant": context.tenant,
        "window": {"since": context.since.isoformat(), "until": context.until.isoformat()},
        "generated_at": context.generated_at.isoformat(),
        "thresholds": asdict(thresholds),
        "summary": asdict(summary),
        "new_failures": [
            {
                "tenant": i.tenant,
                "image_id": i.image_id,
                "candidate": i.candidate_status,
                "reason": i.reason,
            }
            for i in images
            if i.new_failure
        ],
        "worst": [
            {
                "tenant": i.tenant,
                "image_id": i.image_id,
                "candidate": i.candidate_status,
                **({} if i.masks is None else asdict(i.masks)),
            }
            for i in worst
        ],
    }


def _verdict_line(verdict: Verdict) -> str:
    return "PROMOTE" if verdict.promote else "REJECT"


def markdown(
    context: ReportContext,
    summary: Summary,
    verdict: Verdict,
    thresholds: Thresholds,
    images: Sequence[ImageComparison],
    worst: Sequence[ImageComparison],
) -> str:
    lines = [
        f"# Shadow report: {context.candidate} against {context.live}",
        "",
        f"**Verdict: {_verdict_line(verdict)}**",
        "",
        *([f"- {r}" for r in verdict.reasons] or ["- every rule holds"]),
        "",
        f"Results bucket `{context.bucket}`, tenant {context.tenant or 'all'}, "
        f"{context.since:%Y-%m-%d %H:%M} – {context.until:%Y-%m-%d %H:%M} UTC; "
        f"{summary.images} image(s), {summary.compared} anonymized by both, "
        f"{summary.new_failures} new failure(s), {summary.fixed_failures} fixed.",
        "",
        f"Limits: p95 privacy loss ≤ {thresholds.max_p95_privacy_loss:.2%}, new failures ≤ "
        f"{thresholds.max_new_failures}, p95 over-masking ≤ {thresholds.max_p95_over_masking:.2%},"
        f" at least {thresholds.min_images} images.",
        "",
        "## Aggregates",
        "",
        _md_table(AGGREGATE_HEADER, aggregate_rows(summary)),
        "",
        "## Worst disagreements",
        "",
        _md_table(IMAGE_HEADER, [image_row(i) for i in worst]) if worst else "None.",
        "",
        "## Every image",
        "",
        _md_table(IMAGE_HEADER, [image_row(i) for i in images]) if images else "None.",
        "",
        "Privacy loss: the share of the live model's person pixels the candidate leaves unmasked. "
        "Over-masking: pixels only the candidate masks, as a share of the frame.",
        "",
    ]
    return "\n".join(lines)


def _svg_histogram(counts: Sequence[int]) -> str:
    width, height, bar = 420, 140, 40
    top = max(counts) if counts and max(counts) else 1
    bars = []
    for index, count in enumerate(counts):
        h = round((height - 30) * count / top)
        x = index * (bar + 2)
        bars.append(
            f'<rect x="{x}" y="{height - 20 - h}" width="{bar}" height="{h}" fill="#3b7dd8">'
            f"<title>IoU {index / 10:.1f}–{(index + 1) / 10:.1f}: {count}</title></rect>"
            f'<text x="{x + bar / 2}" y="{height - 22 - h}" font-size="10" text-anchor="middle">'
            f"{count}</text>"
            f'<text x="{x + bar / 2}" y="{height - 6}" font-size="10" text-anchor="middle">'
            f"{index / 10:.1f}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="histogram of mask IoU">{"".join(bars)}</svg>'
    )


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(jpeg: bytes | None, alt: str) -> str:
    if jpeg is None:
        return f'<div class="missing">{html.escape(alt)}: no anonymized image</div>'
    data = base64.b64encode(jpeg).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/jpeg;base64,{data}">'


def html_report(
    context: ReportContext,
    summary: Summary,
    verdict: Verdict,
    thresholds: Thresholds,
    images: Sequence[ImageComparison],
    worst: Sequence[ImageComparison],
    thumbnails: Sequence[Thumbnail],
) -> str:
    ious = [i.masks.iou for i in images if i.masks is not None]
    colour = "#1a7f37" if verdict.promote else "#cf222e"
    reasons = (
        "".join(f"<li>{html.escape(r)}</li>" for r in verdict.reasons)
        or "<li>every rule holds</li>"
    )
    by_id = {(t.tenant, t.image_id): t for t in thumbnails}
    cards = []
    for image in worst:
        thumb = by_id.get((image.tenant, image.image_id))
        row = image_row(image)
        caption = html.escape(
            f"{row[0]} — IoU {row[3]}, privacy loss {row[4]}, over-masking {row[5]}"
            + (f" — {image.reason}" if image.reason else "")
        )
        pictures = (
            _img(thumb.live_jpeg, "live") + _img(thumb.candidate_jpeg, "candidate")
            if thumb is not None
            else ""
        )
        cards.append(f"<figure>{pictures}<figcaption>{caption}</figcaption></figure>")
    legend = (
        f'<span style="color:rgb{LIVE_ONLY}">■ live only (the candidate leaves it visible)</span> '
        f'<span style="color:rgb{CANDIDATE_ONLY}">■ candidate only</span> '
        f'<span style="color:rgb{BOTH}">■ both</span>'
    )
    title = f"Shadow report: {context.candidate} against {context.live}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
th, td {{ border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.verdict {{ font-size: 1.4rem; font-weight: bold; color: {colour}; }}
figure {{ display: inline-block; margin: 0 1rem 1rem 0; vertical-align: top; }}
figure img {{ height: {THUMB_HEIGHT}px; margin-right: 4px; }}
.missing {{ display: inline-block; width: 180px; height: {THUMB_HEIGHT}px; background: #eee;
  text-align: center; line-height: {THUMB_HEIGHT}px; font-size: 0.8rem; }}
figcaption {{ font-size: 0.85rem; max-width: 760px; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="verdict">{_verdict_line(verdict)}</p>
<ul>{reasons}</ul>
<p>Results bucket <code>{html.escape(context.bucket)}</code>, tenant
{html.escape(context.tenant or "all")}, {context.since:%Y-%m-%d %H:%M} – {context.until:%Y-%m-%d %H:%M}
UTC: {summary.images} image(s), {summary.compared} anonymized by both, {summary.new_failures} new
failure(s), {summary.fixed_failures} fixed. Limits: p95 privacy loss ≤
{thresholds.max_p95_privacy_loss:.2%}, new failures ≤ {thresholds.max_new_failures}, p95
over-masking ≤ {thresholds.max_p95_over_masking:.2%}, at least {thresholds.min_images} images.</p>
<h2>Aggregates</h2>
{_html_table(AGGREGATE_HEADER, aggregate_rows(summary))}
<h2>Mask IoU</h2>
{_svg_histogram(histogram(ious))}
<h2>Worst disagreements</h2>
<p>Left: the live result, right: the candidate's; both anonymized images, both masks drawn
over each. {legend}</p>
{"".join(cards) or "<p>None.</p>"}
<h2>Every image</h2>
{_html_table(IMAGE_HEADER, [image_row(i) for i in images])}
</body></html>
"""


def dumps_verdict(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, default=str) + "\n"
