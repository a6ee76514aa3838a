"""The S3 key layout shared by the upload API, the transformer and the dashboard (DESIGN.md §3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

ID_PATTERN = r"[a-z0-9-]{1,64}"
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
INCOMING_PREFIX = "incoming/"
RESULTS_PREFIX = "results/"
SHADOW_PREFIX = "shadow/"

_ID_RE = re.compile(rf"^{ID_PATTERN}$")
_INCOMING_RE = re.compile(
    rf"^incoming/(?P<tenant>{ID_PATTERN})/(?P<yyyy>\d{{4}})/(?P<mm>\d{{2}})/(?P<dd>\d{{2}})/"
    rf"(?P<image_id>{ID_PATTERN})\.(?P<ext>[A-Za-z]{{3,4}})$"
)


class InvalidKey(ValueError):
    """A key that is not in the layout; callers map it to their own domain error."""


@dataclass(frozen=True, slots=True)
class IncomingKey:
    """An upload key, `incoming/<tenant>/<yyyy>/<mm>/<dd>/<image-id>.<ext>`."""

    tenant: str
    day: date
    image_id: str
    ext: str

    @property
    def key(self) -> str:
        return f"{INCOMING_PREFIX}{self.tenant}/{self.day:%Y/%m/%d}/{self.image_id}.{self.ext}"


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def incoming_key(tenant: str, day: date, image_id: str, ext: str) -> IncomingKey:
    """Build an upload key; the upload API calls this, never the client."""
    ext = ext.lower()
    if not is_valid_id(tenant):
        raise InvalidKey(f"tenant {tenant!r} does not match {ID_PATTERN}")
    if not is_valid_id(image_id):
        raise InvalidKey(f"image id {image_id!r} does not match {ID_PATTERN}")
    if ext not in IMAGE_EXTENSIONS:
        raise InvalidKey(f"extension {ext!r} is not one of {', '.join(IMAGE_EXTENSIONS)}")
    return IncomingKey(tenant=tenant, day=day, image_id=image_id, ext=ext)


def parse_incoming_key(key: str) -> IncomingKey:
    """Parse an upload key; anything outside the layout is refused (never guessed)."""
    match = _INCOMING_RE.match(key)
    if match is None:
        raise InvalidKey(f"key {key!r} is not incoming/<tenant>/<yyyy>/<mm>/<dd>/<image-id>.<ext>")
    try:
        day = date(int(match["yyyy"]), int(match["mm"]), int(match["dd"]))
    except ValueError as exc:
        raise InvalidKey(f"key {key!r} has an impossible date: {exc}") from exc
    return incoming_key(match["tenant"], day, match["image_id"], match["ext"])


@dataclass(frozen=True, slots=True)
class ResultKeys:
    """Where the results of one image go; `record` (result.json) is written last."""

    prefix: str
    anonymized: str
    mask: str
    record: str


def result_keys(
    tenant: str,
    image_id: str,
    image_ext: str,
    *,
    shadow_model: tuple[str, str] | None = None,
) -> ResultKeys:
    """`results/<tenant>/<id>/…`, or `shadow/<model>/<version>/<tenant>/<id>/…` for a shadow."""
    if shadow_model is None:
        prefix = f"{RESULTS_PREFIX}{tenant}/{image_id}/"
    else:
        model_name, model_version = shadow_model
        prefix = f"{SHADOW_PREFIX}{model_name}/{model_version}/{tenant}/{image_id}/"
    return ResultKeys(
        prefix=prefix,
        anonymized=f"{prefix}anonymized.{image_ext}",
        mask=f"{prefix}mask.png",
        record=f"{prefix}result.json",
    )
