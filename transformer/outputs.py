"""One image's result set in S3: find the record of an earlier delivery, write the record, and
leave exactly one consistent set of outputs (shared by the pipeline and the dead-letter recorder)."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class StoredResults:
    """What one image's result folder holds before this delivery writes to it."""

    keys: frozenset[str]
    has_record: bool  # a result.json is there (readable or not)
    record: ResultRecord | None  # None: no result.json, or an unreadable one


def stored_results(storage: Storage, bucket: str, keys: ResultKeys) -> StoredResults:
    """One listing of the result folder, and its record when there is one.

    The common case, a new image, costs one LIST and no GET: the listing also says which stale
    outputs need deleting later (none), so no blind deletes either.
    """
    present = storage.list_keys(bucket, keys.prefix)
    has_record = keys.record in present
    record = read_record(storage, bucket, keys) if has_record else None
    return StoredResults(present, has_record, record)


def read_record(storage: Storage, bucket: str, keys: ResultKeys) -> ResultRecord | None:
    raw = storage.read_if_exists(bucket, keys.record, max_bytes=RECORD_MAX_BYTES)
    if raw is None:
        return None
    try:
        return ResultRecord.model_validate_json(raw)
    except ValidationError:
        return None  # unreadable: process again and overwrite it


def previous_record(
    storage: Storage, bucket: str, keys: ResultKeys, obj: ObjectCreated
) -> ResultRecord | None:
    """The complete record of an earlier delivery of this same upload (same key and etag)."""
    return same_upload(read_record(storage, bucket, keys), obj)


def same_upload(record: ResultRecord | None, obj: ObjectCreated) -> ResultRecord | None:
    """`record` if it is the complete result of an earlier delivery of `obj`'s upload."""
    if record is None:
        return None
    if record.error is not None and record.error.type == DEAD_LETTERED:
        return None  # a redriven dead letter: try the image again
    same = record.source.key == obj.key and (
        obj.etag is None or record.source.etag in (None, obj.etag)
    )
    return record if same else None


def write_record(
    storage: Storage,
    bucket: str,
    keys: ResultKeys,
    record: ResultRecord,
    *,
    if_absent: bool = False,
) -> bool:
    """Write result.json; with `if_absent`, only if there is none (False: one appeared)."""
    body = record.model_dump_json(indent=2).encode()
    return storage.write(bucket, keys.record, body, "application/json", if_absent=if_absent)


def remove_stale_outputs(
    storage: Storage,
    bucket: str,
    keys: ResultKeys,
    record: ResultRecord,
    *,
    present: frozenset[str] | None = None,
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
    if present is not None:  # a listing of the folder taken before this delivery wrote to it
        every &= present
    for key in sorted(every - keep):
        storage.delete(bucket, key)
