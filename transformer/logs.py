"""Structured JSON log lines, one object a line, for every siteveil process.

Callers pass ids and outcomes in `extra`, never image bytes, credentials or URLs. The transformer
lists the fields it may log (an allow-list); the relay and the upload API log every `extra` field.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

TRANSFORMER_FIELDS = (
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
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured duplicate of the message
}
_NOISY = ("botocore", "boto3", "urllib3", "s3transfer")


class JsonFormatter(logging.Formatter):
    """`time`, `level`, `logger`, `message`, the allowed `extra` fields (all when `fields` is None)
    and `exception`."""

    def __init__(self, fields: Iterable[str] | None = TRANSFORMER_FIELDS) -> None:
        super().__init__()
        self._fields = None if fields is None else tuple(fields)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self._fields is None:
            line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        else:
            line.update({f: getattr(record, f) for f in self._fields if hasattr(record, f)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str, fields: Iterable[str] | None = TRANSFORMER_FIELDS) -> None:
    """JSON lines on stderr for the root logger at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(fields))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # botocore logs request details (signed URLs included) at DEBUG: keep it quiet.
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
