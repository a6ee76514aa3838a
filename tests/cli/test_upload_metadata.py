"""`siteveil upload --camera/--captured-at/--label`, and the capture time read from EXIF."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from siteveil_cli.files import exif_captured_at
from transformer.metadata import from_s3_metadata

from .test_upload import BUCKET, lines


def photo(path: Path, taken: str | None, offset: str | None = None) -> Path:
    """A JPEG with EXIF DateTimeOriginal (and OffsetTimeOriginal) as a camera writes them."""
    image = Image.fromarray(np.full((32, 48, 3), 128, np.uint8))
    exif = Image.Exif()
    if taken is not None:
        ifd = exif.get_ifd(0x8769)
        ifd[0x9003] = taken
        if offset is not None:
            ifd[0x9011] = offset
    image.save(path, format="JPEG", exif=exif.tobytes())
    return path


def uploaded_metadata(api_process: Any, stdout: str) -> list[dict[str, str]]:
    found = []
    for row in lines(stdout):
        listing = api_process.s3.list_objects_v2(Bucket=BUCKET, Prefix="incoming/")
        key = next(o["Key"] for o in listing["Contents"] if row[1] in o["Key"])
        found.append(api_process.s3.head_object(Bucket=BUCKET, Key=key)["Metadata"])
    return found


def test_exif_capture_time_with_and_without_offset(tmp_path: Path) -> None:
    with_offset = photo(tmp_path / "a.jpg", "2026:11:30 09:15:00", "+02:00")
    assert exif_captured_at(with_offset) == datetime(2026, 11, 30, 7, 15, tzinfo=UTC)
    plain = photo(tmp_path / "b.jpg", "2026:11:30 09:15:00")
    assert exif_captured_at(plain) == datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    assert exif_captured_at(photo(tmp_path / "c.jpg", None)) is None
    assert exif_captured_at(photo(tmp_path / "d.jpg", "not a date")) is None


def test_camera_labels_and_exif_time_travel_with_each_upload(
    api_process: Any, tmp_path: Path
) -> None:
    a = photo(tmp_path / "a.jpg", "2026:11:30 09:15:00", "+02:00")
    b = photo(tmp_path / "b.jpg", None)
    done = api_process.run_cli(
        "--token", api_process.token, "upload", str(a), str(b),
        "--camera", "cam-07", "--label", "site=north gate", "--label", "shift=early",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first, second = (from_s3_metadata(m) for m in uploaded_metadata(api_process, done.stdout))
    assert first is not None and second is not None
    assert first.camera_id == second.camera_id == "cam-07"
    assert first.labels == {"site": "north gate", "shift": "early"}
    assert first.captured_at == datetime(2026, 11, 30, 7, 15, tzinfo=UTC)
    assert second.captured_at is None  # no EXIF, no --captured-at


def test_captured_at_on_the_command_line_wins_over_exif(api_process: Any, tmp_path: Path) -> None:
    a = photo(tmp_path / "a.jpg", "2026:11:30 09:15:00", "+02:00")
    done = api_process.run_cli(
        "--token", api_process.token, "upload", str(a), "--batch",
        "--captured-at", "2026-11-29T23:00:00-01:00",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (meta,) = (from_s3_metadata(m) for m in uploaded_metadata(api_process, done.stdout))
    assert meta is not None and meta.captured_at == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "args, message, code",
    [
        (["--captured-at", "2026-11-30 09:15"], "RFC 3339", 2),
        (["--label", "novalue"], "KEY=VALUE", 2),
        (["--camera", "cam/7"], "camera_id", 3),  # the API's 400, reason passed through
    ],
)
def test_bad_metadata_is_refused_with_the_reason(
    api_process: Any, tmp_path: Path, args: list[str], message: str, code: int
) -> None:
    a = photo(tmp_path / "a.jpg", None)
    done = api_process.run_cli("--token", api_process.token, "upload", str(a), *args)
    assert done.returncode == code and message in done.stderr, done.stderr
