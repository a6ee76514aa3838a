"""Prometheus metrics, shared across Gunicorn workers through prometheus_client's multiprocess mode."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

EVENTS = Counter(
    "siteveil_events_total",
    "CloudEvents handled, by outcome (anonymized, failed, duplicate, rejected, error)",
    ["outcome"],
)
REQUEST_SECONDS = Histogram(
    "siteveil_request_seconds",
    "Time to handle one CloudEvent, end to end",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
STAGE_SECONDS = Histogram(
    "siteveil_stage_seconds",
    "Time spent in each pipeline stage",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
PERSON_FRACTION = Histogram(
    "siteveil_person_fraction",
    "Fraction of each image's pixels that were anonymized",
    buckets=(0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1),
)


def exposition() -> tuple[bytes, str]:
    """The metrics of every worker (multiprocess mode) or of this process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
