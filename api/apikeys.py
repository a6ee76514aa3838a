"""API keys for machines: `svk_<key-id>_<secret>`; only the SHA-256 of the whole key is stored.

The secret is 256 random bits, so a fast hash is enough (no password stretching needed); the key
id makes the lookup one S3 GET.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from api.storage import ApiKeyRecord

PREFIX = "svk"
_KEY_RE = re.compile(rf"^{PREFIX}_(?P<key_id>[0-9a-f]{{16}})_(?P<secret>[A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly minted key: `plaintext` is shown once to its owner and never stored."""

    plaintext: str
    record: ApiKeyRecord


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_key_id(plaintext: str) -> str | None:
    """The key id of a well-formed key, else None (so garbage costs no S3 call)."""
    match = _KEY_RE.match(plaintext)
    return match["key_id"] if match else None


def mint(tenant: str, *, name: str, now: datetime) -> NewApiKey:
    key_id = secrets.token_hex(8)
    plaintext = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    record = ApiKeyRecord(
        key_id=key_id, tenant=tenant, sha256=digest(plaintext), name=name, created_at=now
    )
    return NewApiKey(plaintext=plaintext, record=record)


def matches(plaintext: str, record: ApiKeyRecord) -> bool:
    return hmac.compare_digest(digest(plaintext), record.sha256)
