"""The demo's pure parts: sample images, key-safe names, the table and the contact sheet."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from stack.demo import image_id, user_samples
from stack.report import Row, contact_sheet, table
from stack.samples import COMPOSITE_PEOPLE, composite, demo_samples
from stack.uploads import dead_letter_for_image
from transformer.keys import is_valid_id


def test_samples_decode_to_the_promised_images() -> None:
    samples = {s.name: s for s in demo_samples()}
    assert list(samples) == ["astronaut", "cameraman", "rocket", "composite"]
    sizes = {n: Image.open(io.BytesIO(s.data)).size for n, s in samples.items()}
    assert sizes == {
        "astronaut": (512, 512),
        "cameraman": (512, 512),
        "rocket": (640, 427),
        "composite": (1920, 1080),
    }
    assert Image.open(io.BytesIO(samples["cameraman"].data)).mode == "L"
    assert [s.expect_person for s in samples.values()] == [True, True, False, True]


def test_the_composite_holds_people_of_very_different_sizes() -> None:
    frame = composite()
    assert frame.shape == (1080, 1920, 3)
    sizes = sorted(size for _, size, _, _ in COMPOSITE_PEOPLE)
    assert sizes[-1] >= 4 * sizes[0]
    for source, size, left, top in COMPOSITE_PEOPLE:
        portrait = getattr(data, source)()
        if portrait.ndim == 2:
            portrait = np.repeat(portrait[..., None], 3, axis=2)
        expected = np.asarray(
            Image.fromarray(portrait).resize((size, size), Image.Resampling.LANCZOS)
        )
        pasted = frame[top : top + size, left : left + size]
        assert pasted.shape == expected.shape and np.array_equal(pasted, expected), source


def test_names_become_key_safe_unique_ids(tmp_path: Path) -> None:
    taken: set[str] = set()
    ids = [image_id(n, taken) for n in ["My Photo", "my photo", "ÄÖÜ", "x" * 100, "--a--"]]
    assert ids[0] == "my-photo" and ids[1] == "my-photo-2"
    assert ids[2] == "image" and len(ids[3]) <= 64 and ids[4] == "a"
    assert all(is_valid_id(i) for i in ids)
    (tmp_path / "Holiday 2024.JPEG").write_bytes(b"x")
    [sample] = user_samples([tmp_path / "Holiday 2024.JPEG"])
    assert (sample.name, sample.ext, sample.data) == ("holiday-2024", "jpeg", b"x")


def test_table_lists_status_fraction_latency_and_reason() -> None:
    text = table(
        [
            Row("astronaut", "anonymized", 0.5683, 594.2, None),
            Row("broken", "failed", None, 667.0, "corrupt JPEG: cannot decode"),
        ]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["image", "status", "person", "latency", "reason"]
    assert lines[2].split() == ["astronaut", "anonymized", "56.8%", "594", "ms"]
    assert lines[3].split()[:5] == ["broken", "failed", "-", "667", "ms"]
    assert lines[3].endswith("corrupt JPEG: cannot decode")


def test_contact_sheet_shows_before_and_after_per_row() -> None:
    red = io.BytesIO()
    Image.new("RGB", (200, 100), (255, 0, 0)).save(red, "PNG")
    blue = io.BytesIO()
    Image.new("RGB", (200, 100), (0, 0, 255)).save(blue, "PNG")
    sheet = Image.open(
        io.BytesIO(
            contact_sheet(
                [
                    (Row("a", "anonymized", 0.1, 1.0, None), red.getvalue(), blue.getvalue()),
                    (Row("b", "failed", None, 1.0, "corrupt"), b"not an image", None),
                ],
                height=100,
            )
        )
    )
    pixels = np.asarray(sheet.convert("RGB"))
    assert sheet.width >= 12 + 200 + 12 + 200
    assert (pixels == [255, 0, 0]).all(axis=2).sum() >= 200 * 100 * 0.99  # before
    assert (pixels == [0, 0, 255]).all(axis=2).sum() >= 200 * 100 * 0.99  # after


def test_a_dead_letter_is_matched_to_an_upload_by_tenant_and_image_id() -> None:
    def letter(key: str) -> dict[str, object]:
        return {
            "Body": json.dumps(
                {"detail-type": "Object Created", "detail": {"object": {"key": key}}}
            )
        }

    letters = [
        {"Body": "not json"},
        letter("incoming/other/2026/01/02/img-1.jpg"),
        letter("api/images/demo/img-1.json"),
        letter("incoming/demo/2026/01/02/img-1.png"),
    ]
    assert dead_letter_for_image("demo", "img-1", letters) is letters[3]
    assert dead_letter_for_image("demo", "img-2", letters) is None
    assert dead_letter_for_image("other", "img-1", letters) is letters[1]


def test_the_composite_people_do_not_overlap_and_reach_40_px() -> None:
    boxes = [(left, top, left + size, top + size) for _, size, left, top in COMPOSITE_PEOPLE]
    for i, a in enumerate(boxes):
        assert a[2] <= 1920 and a[3] <= 1080
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert min(size for _, size, _, _ in COMPOSITE_PEOPLE) == 40
