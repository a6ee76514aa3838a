"""A tenant's finished results in time order, read from the transformer's index (transformer/index.py).

The index keys carry time, image, status and camera, so filtering is a listing of day prefixes;
each entry on a page is then checked against its result.json (the source of truth), so an entry
left behind by a re-upload or a crash is never shown. Paging is by an opaque cursor: the last key
shown, relative to the caller's own index prefix, so a cursor cannot reach another tenant.
"""

import base64
import binascii
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Annotated, Any

from botocore.client import BaseClient
from fastapi import Depends, FastAPI, Query
from pydantic import AwareDatetime

from api.auth import Principal
from api.config import Settings
from api.errors import InvalidRequest
from api.models import (
    ErrorBody,
    ImageError,
    ModelUsed,
    ResultCounts,
    ResultItem,
    ResultOrder,
    ResultPage,
    ResultStatusName,
)
from api.presign import presign_get
from api.storage import StateStore
from transformer.index import IndexKey, entry_key, index_prefix, parse_entry_key
from transformer.keys import result_keys
from transformer.metadata import CameraId
from transformer.results import ANONYMIZED, ResultRecord

log = logging.getLogger(__name__)

DEFAULT_RANGE = timedelta(days=7)
MAX_RANGE = timedelta(days=31)
AHEAD = timedelta(days=1)
"""The default `to` is a day ahead of now: frames from a camera whose clock runs fast still show."""
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ResultQuery:
    start: datetime
    end: datetime
    camera_id: str | None = None
    status: ResultStatusName | None = None
    order: ResultOrder = "desc"
    limit: int = 50
    cursor: str | None = None


def time_range(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """[from, to): defaults the last 7 days (to a day ahead); at most 31 days; from before to."""
    end = end or now + AHEAD
    start = start or min(now, end) - DEFAULT_RANGE
    if start >= end:
        raise InvalidRequest("from must be before to")
    if end - start > MAX_RANGE:
        raise InvalidRequest(f"the range from..to is at most {MAX_RANGE.days} days")
    return start, end


def encode_cursor(tenant: str, key: str) -> str:
    relative = key.removeprefix(index_prefix(tenant))
    return base64.urlsafe_b64encode(relative.encode()).decode().rstrip("=")


def decode_cursor(tenant: str, cursor: str) -> IndexKey:
    try:
        relative = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("invalid cursor") from exc
    parsed = parse_entry_key(index_prefix(tenant) + relative)
    if parsed is None or parsed.tenant != tenant:
        raise InvalidRequest("invalid cursor")
    return parsed


def result_links(
    presigner: BaseClient, settings: Settings, tenant: str, image_id: str, record: ResultRecord
) -> tuple[str, str] | None:
    """Presigned GETs for the anonymized image and the mask, only if both lie under the image's
    result prefix in the results bucket: a link to the original (or anything else) is never made."""
    if record.outputs is None:
        return None
    prefix = result_keys(tenant, image_id, "png").prefix
    outputs = record.outputs
    inside = outputs.anonymized.startswith(prefix) and outputs.mask.startswith(prefix)
    if not inside or outputs.bucket != settings.results_bucket_name:
        log.warning("result keys outside prefix", extra={"tenant": tenant, "image_id": image_id})
        return None
    expires_s = settings.download_expires_s
    return (
        presign_get(presigner, bucket=outputs.bucket, key=outputs.anonymized, expires_s=expires_s),
        presign_get(presigner, bucket=outputs.bucket, key=outputs.mask, expires_s=expires_s),
    )


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True, slots=True)
class ResultsService:
    settings: Settings
    store: StateStore
    presigner: BaseClient

    def _index_keys(
        self,
        tenant: str,
        query: ResultQuery,
        *,
        after: IndexKey | None = None,
        with_status: bool = True,
    ) -> Iterator[IndexKey]:
        """Index keys in the range and filters, in the query's order, past `after`."""
        days = _days(query.start, query.end)
        descending = query.order == "desc"
        if descending:
            days.reverse()
        for day in days:
            if after is not None and (
                day > after.time.date() if descending else day < after.time.date()
            ):
                continue
            keys = self.store.list_result_keys(f"{index_prefix(tenant)}{day:%Y/%m/%d}/")
            for key in reversed(keys) if descending else keys:
                found = parse_entry_key(key)
                if found is None or found.tenant != tenant:
                    continue
                if not query.start <= found.time < query.end:
                    continue
                if after is not None and (key >= after.key if descending else key <= after.key):
                    continue
                if query.camera_id is not None and found.camera_id != query.camera_id:
                    continue
                if with_status and query.status is not None and found.status != query.status:
                    continue
                yield found

    def page(self, principal: Principal, query: ResultQuery, now: datetime) -> ResultPage:
        tenant = principal.tenant
        after = decode_cursor(tenant, query.cursor) if query.cursor else None
        candidates = self._index_keys(tenant, query, after=after)
        items: list[ResultItem] = []
        last_key: str | None = None
        while len(items) < query.limit:
            batch = list(islice(candidates, query.limit - len(items)))
            if not batch:
                break
            records = self.store.get_results(
                [result_keys(tenant, found.image_id, "png").record for found in batch]
            )
            for found, record in zip(batch, records, strict=True):
                if record is None or not _current(record, found, tenant):
                    continue  # left behind by a re-upload (or a crash): result.json decides
                items.append(self._item(found, record, now))
            last_key = batch[-1].key
        more = len(items) == query.limit and last_key is not None
        return ResultPage(
            items=items, next_cursor=encode_cursor(tenant, last_key) if more and last_key else None
        )

    def counts(self, principal: Principal, query: ResultQuery) -> ResultCounts:
        statuses = [k.status for k in self._index_keys(principal.tenant, query, with_status=False)]
        return ResultCounts(
            total=len(statuses),
            anonymized=statuses.count("anonymized"),
            failed=statuses.count("failed"),
        )

    def _item(self, found: IndexKey, record: ResultRecord, now: datetime) -> ResultItem:
        meta = record.metadata
        links = None
        if record.status == ANONYMIZED:
            links = result_links(
                self.presigner, self.settings, found.tenant, found.image_id, record
            )
        error = record.error
        if record.status != ANONYMIZED:
            error_body = ImageError(
                type=error.type if error else "unknown",
                reason=error.reason if error else "the image could not be anonymized",
            )
        elif links is None:
            error_body = ImageError(
                type="invalid_result", reason="the result lies outside its result prefix"
            )
        else:
            error_body = None
        return ResultItem(
            image_id=found.image_id,
            status=record.status,
            time=found.time,
            camera_id=meta.camera_id if meta else None,
            captured_at=meta.captured_at if meta else None,
            processed_at=record.processed_at,
            labels=dict(meta.labels) if meta else {},
            width=record.width,
            height=record.height,
            person_fraction=record.person_fraction,
            model=ModelUsed(name=record.model.name, version=record.model.version),
            models=[ModelUsed(name=m.name, version=m.version, role=m.role) for m in record.models],
            error=error_body,
            anonymized_url=links[0] if links else None,
            mask_url=links[1] if links else None,
            links_expire_at=now + timedelta(seconds=self.settings.download_expires_s)
            if links
            else None,
        )


def _current(record: ResultRecord, found: IndexKey, tenant: str) -> bool:
    return (
        record.tenant == tenant
        and record.image_id == found.image_id
        and entry_key(record) == found.key
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid filter, range or cursor (do not retry)."},
    401: {"model": ErrorBody, "description": "Missing or invalid credentials."},
    503: {"model": ErrorBody, "description": "Storage unavailable (retry)."},
}

From = Annotated[
    AwareDatetime | None,
    Query(alias="from", description="Inclusive start, RFC 3339 (default: 7 days ago)."),
]
To = Annotated[
    AwareDatetime | None,
    Query(description="Exclusive end, RFC 3339 (default: a day from now); at most 31 days."),
]
Camera = Annotated[CameraId | None, Query(description="Only this camera's results.")]


def install_results_routes(
    app: FastAPI,
    results: ResultsService,
    principal: Callable[..., Principal],
    clock: Callable[[], datetime],
) -> None:
    """`GET /v1/results` and `GET /v1/results/counts`; `principal` is the app's auth dependency."""
    Caller = Annotated[Principal, Depends(principal)]  # noqa: N806 - a type alias

    @app.get(
        "/v1/results",
        response_model=ResultPage,
        responses=_ERRORS,
        tags=["results"],
        summary="The caller's finished results in time order (newest first by default), "
        "filtered by camera, status and time, with cursor paging",
    )
    def list_results(
        caller: Caller,
        camera_id: Camera = None,
        start: From = None,
        to: To = None,
        status: Annotated[ResultStatusName | None, Query()] = None,
        order: Annotated[ResultOrder, Query()] = "desc",
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> ResultPage:
        now = clock()
        begin, end = time_range(start, to, now)
        query = ResultQuery(begin, end, camera_id, status, order, limit, cursor)
        return results.page(caller, query, now)

    @app.get(
        "/v1/results/counts",
        response_model=ResultCounts,
        responses=_ERRORS,
        tags=["results"],
        summary="How many results per status in the range (optionally one camera's)",
    )
    def count_results(
        caller: Caller, camera_id: Camera = None, start: From = None, to: To = None
    ) -> ResultCounts:
        begin, end = time_range(start, to, clock())
        return results.counts(caller, ResultQuery(begin, end, camera_id))
