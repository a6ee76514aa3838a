"""Image and batch ids: random, in the `[a-z0-9-]{1,64}` alphabet, and telling where they are indexed.

A single upload's id is 32 hex digits and has its own index object. A batch item's id is
`<batch-id>-<nnnn>` (its position in the batch), so a batch of 1 000 is created with one S3 write
(its manifest) and any of its images is found through that manifest, without a database.
"""

from __future__ import annotations

import re
import uuid

_BATCH_ITEM_RE = re.compile(r"^(?P<batch_id>[0-9a-f]{32})-(?P<index>\d{4})$")


def new_id() -> str:
    return uuid.uuid4().hex


def batch_item_id(batch_id: str, index: int) -> str:
    return f"{batch_id}-{index:04d}"


def parse_batch_item_id(image_id: str) -> tuple[str, int] | None:
    """(batch id, index) for a batch item's id, None for any other id."""
    match = _BATCH_ITEM_RE.match(image_id)
    return (match["batch_id"], int(match["index"])) if match else None
