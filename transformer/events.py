"""CloudEvents in (S3 object-created notifications in every shape we accept) and reply events out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from cloudevents.v1.conversion import to_binary
from cloudevents.v1.exceptions import GenericException as CloudEventError
from cloudevents.v1.http import CloudEvent, from_http

from transformer.errors import InvalidEvent, shown
from transformer.keys import IncomingKey, InvalidKey, parse_incoming_key

ANONYMIZED_TYPE = "siteveil.image.anonymized"
FAILED_TYPE = "siteveil.image.failed"
SHADOW_ANONYMIZED_TYPE = "siteveil.shadow.anonymized"
SHADOW_FAILED_TYPE = "siteveil.shadow.failed"
REPLY_TYPES = frozenset({ANONYMIZED_TYPE, FAILED_TYPE, SHADOW_ANONYMIZED_TYPE, SHADOW_FAILED_TYPE})

_BINARY_REQUIRED = ("ce-specversion", "ce-id", "ce-source", "ce-type")
_MAX_NESTING = 3  # CloudEvent data → SQS message → SNS/EventBridge envelope


@dataclass(frozen=True, slots=True)
class ObjectCreated:
    """One uploaded object an event asks us to anonymize."""

    event_id: str
    bucket: str
    key: str
    etag: str | None
    size: int | None
    incoming: IncomingKey


def parse_cloudevent(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """Read a CloudEvent in binary or structured HTTP mode; anything else is an InvalidEvent."""
    _require_binary_attributes(headers)
    try:
        event = from_http(dict(headers), body)
    except CloudEventError as exc:
        # The SDK's message may quote the whole body ("can not be parsed as json: b'…'").
        message = str(exc).split(" The following can not be parsed", 1)[0]
        raise InvalidEvent(f"not a CloudEvent: {message}") from exc
    if event["type"] in REPLY_TYPES:
        raise InvalidEvent(f"refusing our own reply type {shown(event['type'])} (reply loop)")
    return event


def _require_binary_attributes(headers: Mapping[str, str]) -> None:
    """Name what a binary-mode event lacks; the SDK answers "Failed to find specversion" for all."""
    present = {name.lower() for name in headers}
    if not any(name.startswith("ce-") for name in present):
        return  # structured mode (or not a CloudEvent at all): the SDK says which
    missing = [a for a in _BINARY_REQUIRED if a not in present]
    if missing:
        raise InvalidEvent(f"binary-mode CloudEvent lacks the header(s) {', '.join(missing)}")


def objects_created(event: CloudEvent) -> list[ObjectCreated]:
    """The uploaded objects named by an event's data, whatever envelope carries them."""
    data = _as_json(event.get_data(), depth=0)
    refs = [
        _object_ref(event["id"], bucket, key, etag, size)
        for bucket, key, etag, size in _s3_objects(data, depth=0)
    ]
    if not refs:
        raise InvalidEvent("the event names no created object")
    return refs


def require_source_bucket(
    obj: ObjectCreated, upload_buckets: tuple[str, ...], results_bucket: str | None
) -> None:
    """Only the configured upload bucket(s) are sources: never the results bucket or a stranger's."""
    allowed = obj.bucket in upload_buckets if upload_buckets else obj.bucket != results_bucket
    if not allowed:
        raise InvalidEvent(f"bucket {shown(obj.bucket)} is not an upload bucket of this service")


def reply_event(
    record: Mapping[str, Any], *, failed: bool, shadow: bool, model_name: str
) -> tuple[dict[str, str], bytes]:
    """The reply CloudEvent (binary mode) carrying a result record back to the broker."""
    if shadow:
        event_type = SHADOW_FAILED_TYPE if failed else SHADOW_ANONYMIZED_TYPE
    else:
        event_type = FAILED_TYPE if failed else ANONYMIZED_TYPE
    attributes = {
        "type": event_type,
        "source": f"siteveil/transformer/{model_name}",
        "subject": f"{record['tenant']}/{record['image_id']}",
        "datacontenttype": "application/json",
    }
    headers, body = to_binary(CloudEvent(attributes, dict(record)))
    return headers, body


def _as_json(data: object, depth: int) -> object:
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEvent("event data is not UTF-8 text") from exc
    if isinstance(data, str):
        try:
            return json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidEvent(f"event data is not JSON: {exc.msg}") from exc
    if data is None:
        raise InvalidEvent("event has no data")
    return data


def _s3_objects(data: object, depth: int) -> list[tuple[str, str, str | None, int | None]]:
    """(bucket, key, etag, size) for each object in an EventBridge, S3 or SQS envelope."""
    if depth > _MAX_NESTING or not isinstance(data, dict):
        raise InvalidEvent("event data is not an S3 object-created notification")
    if "detail-type" in data:
        return [_from_eventbridge(data)]
    if "Records" in data:
        return [_from_s3_record(r) for r in _records(data["Records"])]
    for body_field in ("Body", "body", "Message"):  # SQS message (TriggerMesh) or SNS envelope
        if isinstance(data.get(body_field), str):
            return _s3_objects(_as_json(data[body_field], depth + 1), depth + 1)
    if data.get("Event") == "s3:TestEvent":
        raise InvalidEvent("S3 test event: nothing to process")
    raise InvalidEvent("event data is not an S3 object-created notification")


def _from_eventbridge(data: dict[str, Any]) -> tuple[str, str, str | None, int | None]:
    if data.get("source") != "aws.s3" or data.get("detail-type") != "Object Created":
        raise InvalidEvent(
            f"EventBridge event {shown(data.get('source'))}/{shown(data.get('detail-type'))} "
            "is not an S3 Object Created event"
        )
    detail = _dict(data.get("detail"), "detail")
    obj = _dict(detail.get("object"), "detail.object")
    bucket = _dict(detail.get("bucket"), "detail.bucket").get("name")
    etag = obj.get("etag", obj.get("eTag"))
    return (
        _text(bucket, "detail.bucket.name"),
        _text(obj.get("key"), "detail.object.key"),
        _etag(etag),
        _size(obj.get("size")),
    )


def _records(records: object) -> list[dict[str, Any]]:
    if not isinstance(records, list) or not records:
        raise InvalidEvent("Records must be a non-empty list")
    return [_dict(r, "Records[]") for r in records]


def _from_s3_record(record: dict[str, Any]) -> tuple[str, str, str | None, int | None]:
    name = str(record.get("eventName", ""))
    if record.get("eventSource") not in ("aws:s3", "minio:s3") or "ObjectCreated" not in name:
        raise InvalidEvent(
            f"S3 record {shown(record.get('eventSource'))}/{shown(name)} is not ObjectCreated"
        )
    s3 = _dict(record.get("s3"), "Records[].s3")
    obj = _dict(s3.get("object"), "Records[].s3.object")
    bucket = _dict(s3.get("bucket"), "Records[].s3.bucket").get("name")
    key = unquote_plus(_text(obj.get("key"), "Records[].s3.object.key"))
    return (
        _text(bucket, "Records[].s3.bucket.name"),
        key,
        _etag(obj.get("eTag", obj.get("etag"))),
        _size(obj.get("size")),
    )


def _object_ref(
    event_id: str, bucket: str, key: str, etag: str | None, size: int | None
) -> ObjectCreated:
    try:
        incoming = parse_incoming_key(key)
    except InvalidKey as exc:
        raise InvalidEvent(str(exc)) from exc
    return ObjectCreated(event_id, bucket, key, etag, size, incoming)


def _dict(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidEvent(f"{where} is missing or not an object")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"{where} is missing or not a string")
    return value


def _etag(value: object) -> str | None:
    return value.strip('"') if isinstance(value, str) and value else None


def _size(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        size = int(value)
    except ValueError:
        return None
    return size if size >= 0 else None
