"""The time-ordered index of a tenant's results: one small entry per result, its key sorting by time.

    results/<tenant>/_index/<yyyy>/<mm>/<dd>/<hh>/<yyyymmddThhmmss.ffffffZ>_<image-id>_<status>_<camera-id>.json

The time is the frame's `captured_at` when the customer gave one, else the record's
`processed_at` (UTC). A dashboard lists "the last hour of camera 7" with one prefix listing of
the hour and filters on the key alone (time, image, status and camera are all in it); the entry's
body repeats them with the record's key. `_index` cannot clash with an image id (`_` is not in the
id alphabet). The entry is written after result.json; on redelivery of the same upload it is
written again (same key, same bytes: idempotent); when a re-upload replaces the record, the old
entry is deleted once the new one is written. Readers that must be exact (the API) still check
each entry against result.json, which stays the source of truth.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from transformer.errors import StorageUnavailable
from transformer.keys import ID_PATTERN, RESULTS_PREFIX, ResultKeys, result_keys
from transformer.results import ResultRecord
from transformer.storage import Storage

log = logging.getLogger(__name__)

INDEX_DIR = "_index"
_RECORD_MAX_BYTES = 4 * 1024 * 1024
_STAMP = "%Y%m%dT%H%M%S"
_KEY_RE = re.compile(
    rf"^{RESULTS_PREFIX}(?P<tenant>{ID_PATTERN})/{INDEX_DIR}/\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/"
    rf"(?P<stamp>\d{{8}}T\d{{6}}\.\d{{6}}Z)_(?P<image_id>{ID_PATTERN})_"
    r"(?P<status>anonymized|failed)_(?P<camera>[A-Za-z0-9.:-]{0,64})\.json$"
)


@dataclass(frozen=True, slots=True)
class IndexKey:
    """What an index key says on its own (no GET needed)."""

    key: str
    tenant: str
    time: datetime
    image_id: str
    status: Literal["anonymized", "failed"]
    camera_id: str | None


class IndexEntry(BaseModel):
    """The body of an index entry: the key's fields, plus where the record is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    tenant: str
    image_id: str
    status: Literal["anonymized", "failed"]
    time: datetime
    camera_id: str | None = None
    captured_at: datetime | None = None
    processed_at: datetime
    record: str
    source_etag: str | None = None


def index_prefix(tenant: str) -> str:
    return f"{RESULTS_PREFIX}{tenant}/{INDEX_DIR}/"


def hour_prefix(tenant: str, moment: datetime) -> str:
    """`results/<tenant>/_index/<yyyy>/<mm>/<dd>/<hh>/`: the entries of one UTC hour."""
    return f"{index_prefix(tenant)}{moment.astimezone(UTC):%Y/%m/%d/%H}/"


def index_time(record: ResultRecord) -> datetime:
    captured = record.metadata.captured_at if record.metadata else None
    return (captured or record.processed_at).astimezone(UTC)


def _stamp(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:{_STAMP}}.{moment.microsecond:06d}Z"


def entry_key(record: ResultRecord) -> str:
    """The index key of a record (a pure function of the record: redelivery writes the same key)."""
    moment = index_time(record)
    camera = (record.metadata.camera_id if record.metadata else None) or ""
    name = f"{_stamp(moment)}_{record.image_id}_{record.status}_{camera}.json"
    return hour_prefix(record.tenant, moment) + name


def parse_entry_key(key: str) -> IndexKey | None:
    """The fields of an index key, or None for any other key."""
    match = _KEY_RE.match(key)
    if match is None:
        return None
    moment = datetime.strptime(match["stamp"], f"{_STAMP}.%fZ").replace(tzinfo=UTC)
    return IndexKey(
        key=key,
        tenant=match["tenant"],
        time=moment,
        image_id=match["image_id"],
        status=match["status"],  # type: ignore[arg-type]
        camera_id=match["camera"] or None,
    )


def index_entry(record: ResultRecord) -> IndexEntry:
    meta = record.metadata
    return IndexEntry(
        tenant=record.tenant,
        image_id=record.image_id,
        status=record.status,
        time=index_time(record),
        camera_id=meta.camera_id if meta else None,
        captured_at=meta.captured_at if meta else None,
        processed_at=record.processed_at,
        record=result_keys(record.tenant, record.image_id, "png").record,
        source_etag=record.source.etag,
    )


def is_indexed(keys: ResultKeys) -> bool:
    """Only production results are indexed (not shadow/…)."""
    return keys.prefix.startswith(RESULTS_PREFIX)


class ResultIndex:
    """Writes and retires index entries next to the records (same bucket)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def current_entry(self, bucket: str, keys: ResultKeys) -> str | None:
        """The index key of the record about to be replaced (None: no readable record yet)."""
        raw = self._storage.read_if_exists(bucket, keys.record, max_bytes=_RECORD_MAX_BYTES)
        if raw is None:
            return None
        try:
            return entry_key(ResultRecord.model_validate_json(raw))
        except ValidationError:
            return None

    def write(self, bucket: str, record: ResultRecord, *, replaced: str | None = None) -> str:
        """Write the record's entry (after the record), then delete the entry it replaces."""
        key = entry_key(record)
        body = index_entry(record).model_dump_json().encode()
        self._storage.write(bucket, key, body, "application/json")
        if replaced is not None and replaced != key:
            try:
                self._storage.delete(bucket, replaced)
            except StorageUnavailable as exc:  # harmless: readers check entries against result.json
                log.warning(
                    "stale index entry not deleted",
                    extra={
                        "tenant": record.tenant,
                        "image_id": record.image_id,
                        "reason": str(exc),
                    },
                )
        return key
