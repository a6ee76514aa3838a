"""Which local files to upload: images named directly or found (recursively) in folders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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


def result_path(out_dir: Path, image: LocalImage, url_or_key: str) -> Path:
    """`<out>/<relative path>` with the anonymized image's own extension."""
    ext = PurePosixPath(url_or_key.split("?", 1)[0]).suffix or image.path.suffix
    return out_dir / Path(image.relative.with_suffix(ext))
