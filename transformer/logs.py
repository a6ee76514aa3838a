"""Structured JSON log lines; callers pass ids and outcomes, never image bytes, credentials or URLs."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_FIELDS = (
    "event_id",
    "tenant",
    "image_id",
    "outcome",
    "status",
    "reason",
    "timings_ms",
    "model_version",
    "person_fraction",
    "duplicate",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in _FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # botocore logs request details (signed URLs included) at DEBUG: keep it quiet.
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
