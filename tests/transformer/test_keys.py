"""The key layout of DESIGN.md §3: the API builds keys, the transformer parses them."""

from __future__ import annotations

from datetime import date

import pytest

from transformer.keys import InvalidKey, incoming_key, parse_incoming_key, result_keys


def test_round_trip() -> None:
    key = incoming_key("acme", date(2026, 1, 2), "f00-ba4", "JPG")
    assert key.key == "incoming/acme/2026/01/02/f00-ba4.jpg"
    assert parse_incoming_key(key.key) == key


@pytest.mark.parametrize(
    "key",
    [
        "incoming/acme/2026/01/02/../../x.jpg",
        "incoming/Acme/2026/01/02/a.jpg",
        "incoming/acme/2026/1/2/a.jpg",
        "incoming/acme/2026/02/30/a.jpg",
        "incoming/acme/2026/01/02/a.exe",
        "incoming/acme/2026/01/02/a.jpg/b.jpg",
        "incoming/" + "a" * 65 + "/2026/01/02/a.jpg",
        "results/acme/a/anonymized.jpg",
        "",
    ],
)
def test_keys_outside_the_layout_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey):
        parse_incoming_key(key)


def test_result_and_shadow_keys() -> None:
    keys = result_keys("acme", "img-1", "webp")
    assert (keys.anonymized, keys.mask, keys.record) == (
        "results/acme/img-1/anonymized.webp",
        "results/acme/img-1/mask.png",
        "results/acme/img-1/result.json",
    )
    shadow = result_keys("acme", "img-1", "jpg", shadow_model=("seg", "3"))
    assert shadow.prefix == "shadow/seg/3/acme/img-1/"
