"""The shadow comparison from start to end: pair, compare, aggregate, decide, write the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ops.errors import OpsError
from ops.metrics import (
    ImageComparison,
    Summary,
    Thresholds,
    Verdict,
    decide,
    summarize,
    worst,
)
from ops.records import Candidate, Pair, ResultStore, compare, find_candidate, pairs
from ops.report import (
    ReportContext,
    dumps_verdict,
    Thumbnail,
    html_report,
    markdown,
    overlay,
    verdict_document,
)

REPORT_FILES = ("report.md", "report.html", "verdict.json")


@dataclass(frozen=True, slots=True)
class ShadowReport:
    context: ReportContext
    images: list[ImageComparison]
    summary: Summary
    verdict: Verdict
    thresholds: Thresholds
    worst: list[ImageComparison]
    files: dict[str, str]  # name → content


def _live_model(found: Sequence[Pair]) -> str:
    models = sorted(
        {
            f"{p.live['model']['name']}/{p.live['model'].get('version')}"
            for p in found
            if p.live.get("model")
        }
    )
    return ", ".join(models) or "unknown"


def _thumbnail(store: ResultStore, pair: Pair) -> Thumbnail:
    live_image = store.anonymized(pair.live)
    candidate_image = store.anonymized(pair.candidate)
    if live_image is None:
        return Thumbnail(pair.tenant, pair.image_id, None, None)
    live_mask = store.mask(pair.live)
    candidate_mask = (
        store.mask(pair.candidate)
        if candidate_image is not None and pair.candidate is not None
        else np.zeros_like(live_mask)
    )
    live_jpeg = overlay(live_image, live_mask, candidate_mask)
    candidate_jpeg = (
        overlay(candidate_image, live_mask, candidate_mask, side="candidate")
        if candidate_image is not None
        else None
    )
    return Thumbnail(pair.tenant, pair.image_id, live_jpeg, candidate_jpeg)


def shadow_report(
    store: ResultStore,
    *,
    model: str | None,
    version: str | None,
    tenant: str | None,
    since: datetime,
    until: datetime,
    thresholds: Thresholds,
    worst_count: int = 8,
    now: datetime | None = None,
) -> ShadowReport:
    if since >= until:
        raise OpsError(
            f"the window is empty: since {since.isoformat()} is not before until {until.isoformat()}"
        )
    candidate: Candidate = find_candidate(store, model, version)
    found = pairs(store, candidate, tenant=tenant, since=since, until=until)
    images = [compare(store, pair) for pair in found]
    summary = summarize(images)
    verdict = decide(summary, thresholds)
    bad = worst(images, worst_count)
    by_id = {(p.tenant, p.image_id): p for p in found}
    thumbnails = [_thumbnail(store, by_id[(i.tenant, i.image_id)]) for i in bad]
    context = ReportContext(
        live=_live_model(found),
        candidate=f"{candidate.model}/{candidate.version}",
        bucket=store.bucket,
        tenant=tenant,
        since=since,
        until=until,
        generated_at=now or datetime.now(UTC),
    )
    document = verdict_document(context, summary, verdict, thresholds, images, bad)
    files = {
        "report.md": markdown(context, summary, verdict, thresholds, images, bad),
        "report.html": html_report(context, summary, verdict, thresholds, images, bad, thumbnails),
        "verdict.json": dumps_verdict(document),
    }
    return ShadowReport(context, images, summary, verdict, thresholds, bad, files)


def write_local(report: ShadowReport, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in REPORT_FILES:
        path = folder / name
        path.write_text(report.files[name], encoding="utf-8")
        written.append(path)
    return written


CONTENT_TYPES = {
    "report.md": "text/markdown; charset=utf-8",
    "report.html": "text/html; charset=utf-8",
    "verdict.json": "application/json",
}


def write_s3(report: ShadowReport, s3: Any, uri: str) -> list[str]:
    """Upload the three files under `uri` (s3://bucket/prefix); verdict.json last."""
    if not uri.startswith("s3://"):
        raise OpsError(f"{uri!r} is not an s3:// URI")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise OpsError(f"{uri!r} has no bucket")
    prefix = prefix.strip("/")
    written = []
    for name in REPORT_FILES:
        key = f"{prefix}/{name}" if prefix else name
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=report.files[name].encode("utf-8"),
            ContentType=CONTENT_TYPES[name],
        )
        written.append(f"s3://{bucket}/{key}")
    return written
