"""The transformer's domain exceptions, each mapped to one HTTP status (4xx: do not retry, 5xx: retry me)."""

from __future__ import annotations

import re
from typing import ClassVar

MAX_REASON_CHARS = 300
"""Reasons go into HTTP answers, logs, result records and dead letters: short and one line."""
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def bounded(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """One printable line of at most `limit` characters: control characters become `?` and a
    long text is cut, saying by how much (a 900 KiB body once came back as a 900 KiB reason)."""
    flat = _UNPRINTABLE.sub("?", text)
    if len(flat) <= limit:
        return flat
    cut = flat[: max(0, limit - 24)]
    return f"{cut}… ({len(flat) - len(cut)} more chars)"


def shown(value: object, limit: int = 80) -> str:
    """A value from the outside world quoted for a reason, bounded (never the whole thing)."""
    return repr(bounded(value if isinstance(value, str) else repr(value), limit))


class TransformerError(Exception):
    """Base of every error the transformer reports; `status` is the HTTP status it maps to."""

    status: ClassVar[int] = 500
    retryable: ClassVar[bool] = True

    @property
    def kind(self) -> str:
        return type(self).__name__

    @property
    def reason(self) -> str:
        return bounded(str(self) or self.kind)


class InvalidEvent(TransformerError):
    """The CloudEvent is malformed or names no image we can process → 400, never retried."""

    status = 400
    retryable = False


class ObjectNotFound(TransformerError):
    """The object the event names does not exist (deleted before we ran, wrong key).

    Like InvalidImage this is a final outcome for the upload: the pipeline records it as
    `failed`. Where it escapes to HTTP it maps to 410, not 404: Knative retries 404.
    """

    status = 410
    retryable = False


class InvalidImage(TransformerError):
    """The object is not an image we can anonymize (corrupt, not an image, too large).

    This is a final outcome for the image, not a delivery failure: the pipeline writes a
    `failed` result record and replies `siteveil.image.failed` (HTTP 200). 422 is what it
    maps to where no record can be written.
    """

    status = 422
    retryable = False


class PredictorUnavailable(TransformerError):
    """Triton is down, not ready, timed out or answered nonsense → 503, retried."""

    status = 503


class ModelContractError(TransformerError):
    """The model's Triton config does not say how to feed it (a deployment error) → 503."""

    status = 503


class StorageUnavailable(TransformerError):
    """S3 could not be read or written → 503, retried."""

    status = 503
