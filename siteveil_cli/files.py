"""Which local files to upload: images named directly or found (recursively) in folders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}


class UsageError(Exception):
    """The command line names something we cannot upload (exit status 2)."""


@dataclass(frozen=True, slots=True)
class LocalImage:
    path: Path
    relative: PurePosixPath
    """Where its results go under --out: the path relative to the folder it was found in."""
    content_type: str
    size: int


def _image(path: Path, relative: PurePosixPath) -> LocalImage:
    return LocalImage(
        path=path,
        relative=relative,
        content_type=CONTENT_TYPES[path.suffix.lower()],
        size=path.stat().st_size,
    )


def collect(paths: Iterable[Path]) -> list[LocalImage]:
    """Files named on the command line must be images; in folders, other files are skipped."""
    found: list[LocalImage] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in CONTENT_TYPES and child.stat().st_size > 0:
                    found.append(_image(child, PurePosixPath(child.relative_to(path).as_posix())))
        elif path.is_file():
            if path.suffix.lower() not in CONTENT_TYPES:
                raise UsageError(f"{path}: not a .jpg/.jpeg/.png/.webp file")
            if path.stat().st_size == 0:
                raise UsageError(f"{path}: empty file")
            found.append(_image(path, PurePosixPath(path.name)))
        else:
            raise UsageError(f"{path}: no such file or folder")
    if not found:
        raise UsageError("no images to upload")
    return found


_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
"""EXIF 2.32 tags: DateTimeOriginal "YYYY:MM:DD HH:MM:SS", OffsetTimeOriginal "+HH:MM"."""


def exif_captured_at(path: Path) -> datetime | None:
    """When the camera says the frame was taken (EXIF DateTimeOriginal), in UTC, or None.

    With OffsetTimeOriginal the offset is applied; without it the time is taken as UTC (EXIF
    itself carries no zone): pass `--captured-at` when your cameras write local time.
    """
    try:
        with Image.open(path) as image:
            exif = image.getexif().get_ifd(_EXIF_IFD)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    raw = exif.get(_DATETIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone = UTC
    offset = exif.get(_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str) and len(offset.strip()) == 6 and offset[0] in "+-":
        try:
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            sign = -1 if offset[0] == "-" else 1
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        except ValueError:
            zone = UTC
    return moment.replace(tzinfo=zone).astimezone(UTC)


def result_path(out_dir: Path, image: LocalImage, url_or_key: str) -> Path:
    """`<out>/<relative path>` with the anonymized image's own extension."""
    ext = PurePosixPath(url_or_key.split("?", 1)[0]).suffix or image.path.suffix
    return out_dir / Path(image.relative.with_suffix(ext))
