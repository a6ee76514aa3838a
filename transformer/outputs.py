"""One image's result set in S3: find the record of an earlier delivery, write the record, and
leave exactly one consistent set of outputs (shared by the pipeline and the dead-letter recorder)."""

from __future__ import annotations

from pydantic import ValidationError

from transformer import codec
from transformer.events import ObjectCreated
from transformer.keys import ResultKeys
from transformer.results import ResultRecord
from transformer.storage import Storage

RECORD_MAX_BYTES = 4 * 1024 * 1024
DEAD_LETTERED = "DeadLettered"
"""`error.type` of a record written for a dead letter: not the image's outcome, so a redrive of
the same upload is processed again instead of being answered from this record."""


def previous_record(
    storage: Storage, bucket: str, keys: ResultKeys, obj: ObjectCreated
) -> ResultRecord | None:
    """The complete record of an earlier delivery of this same upload (same key and etag)."""
    raw = storage.read_if_exists(bucket, keys.record, max_bytes=RECORD_MAX_BYTES)
    if raw is None:
        return None
    try:
        record = ResultRecord.model_validate_json(raw)
    except ValidationError:
        return None  # unreadable: process again and overwrite it
    if record.error is not None and record.error.type == DEAD_LETTERED:
        return None  # a redriven dead letter: try the image again
    same_upload = record.source.key == obj.key and (
        obj.etag is None or record.source.etag in (None, obj.etag)
    )
    return record if same_upload else None


def write_record(storage: Storage, bucket: str, keys: ResultKeys, record: ResultRecord) -> None:
    storage.write(
        bucket, keys.record, record.model_dump_json(indent=2).encode(), "application/json"
    )


def remove_stale_outputs(
    storage: Storage, bucket: str, keys: ResultKeys, record: ResultRecord
) -> None:
    """Leave one consistent set: outputs of an earlier upload of this id must not outlive it.

    Runs after the record is written, so no record ever points at a deleted object: an earlier
    upload's image under another extension goes, and a `failed` record keeps no image or mask
    at all. A crash before this step leaves only stale *anonymized* outputs beside the new
    record, and the redelivery (a duplicate) runs it again.
    """
    keep = {record.outputs.anonymized, record.outputs.mask} if record.outputs else set()
    stem = keys.anonymized.rsplit(".", 1)[0]
    every = {f"{stem}.{ext}" for ext in codec.EXTENSIONS.values()} | {keys.mask}
    for key in sorted(every - keep):
        storage.delete(bucket, key)
