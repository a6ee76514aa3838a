"""Real CCTV frames for the evaluation, with ground truth that none of our models produced.

The source is OpenCV's pedestrian sample video `vtest.avi` as Debian ships it in `opencv-doc`
4.6.0+dfsg-12 (`/usr/share/doc/opencv-doc/examples/data/`; the package's copyright file gives
Apache-2.0 AND BSD-3-Clause): 795 frames, 768×576, of a fixed camera looking down on a campus
path, with real people walking at 43–144 px tall among traffic cones and barrier tape.

Ground truth comes from the camera standing still, not from a detector: the per-pixel median of
every fifth frame is the empty scene; a person is a connected region that differs from it, tall
and narrow like a standing person; the head box is the top seventh of the region's rows, between
its leftmost and rightmost pixels there. Regions that are too wide (two people walking together),
too small or cut by the image's top or sides are not scored (they stay in the frame).

Frames are mosaics of whole video frames, each cell a different moment, so that one 1080p or 4K
upload holds dozens of real people at the sizes a site camera sees far away:
`far` cells are 480×360 (people 27–90 px), `near` cells are 960×720 (people 54–180 px). Each
layout also gets one person-free mosaic of the empty scene (its tripods, cones and signs are what
a detector must not take for people). `python -m evaluation.cctv` writes the JPEGs and an `annotations.json` for
`python -m evaluation --scenes` (`make eval-cctv` does both).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from evaluation import opencv_doc
from stack.config import REPO_ROOT

DIFFERENCE_THRESHOLD = 40  # grey levels, any channel, against the empty scene
MIN_PERSON_PX = 30  # region height in video pixels
ASPECT_RANGE = (1.8, 5.0)  # height / width of one standing or walking person
HEAD_SHARE = 1 / 7  # of the person's height: the head of an adult
JPEG_QUALITY = 90

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


@dataclass(frozen=True, slots=True)
class Person:
    body: np.ndarray  # N×2 int32 outline (x, y), frame pixels
    box: Box
    head: Box


@dataclass(frozen=True, slots=True)
class Layout:
    """A mosaic: `columns`×`rows` video frames resized to `cell` (width, height)."""

    name: str
    columns: int
    rows: int
    cell: tuple[int, int]

    @property
    def size(self) -> tuple[int, int]:
        return self.columns * self.cell[0], self.rows * self.cell[1]


LAYOUTS: dict[str, Layout] = {
    "1080p-far": Layout("1080p-far", 4, 3, (480, 360)),
    "4k-far": Layout("4k-far", 8, 6, (480, 360)),
    "4k-near": Layout("4k-near", 4, 3, (960, 720)),
}


# --- ground truth (pure) ----------------------------------------------------------------------


def empty_scene(frames: Sequence[np.ndarray], every: int = 5) -> np.ndarray:
    """The fixed camera's view without anyone: the per-pixel median over the video."""
    return np.median(np.stack(frames[::every]), axis=0).astype(np.uint8)


def head_box(region: np.ndarray, box: Box) -> Box:
    """The top `HEAD_SHARE` of a region's rows, between its outermost pixels there."""
    x0, y0, x1, y1 = box
    rows = max(2, round((y1 - y0) * HEAD_SHARE))
    columns = np.flatnonzero(region[y0 : y0 + rows, x0:x1].any(axis=0))
    if columns.size == 0:
        return x0, y0, x1, y0 + rows
    return x0 + int(columns[0]), y0, x0 + int(columns[-1]) + 1, y0 + rows


def people_in(frame: np.ndarray, empty: np.ndarray) -> list[Person]:
    """The people of one frame: regions differing from the empty scene, shaped like a person."""
    difference = np.abs(frame.astype(np.int16) - empty.astype(np.int16)).max(axis=2)
    moving = (difference > DIFFERENCE_THRESHOLD).astype(np.uint8)
    moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, np.ones((9, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(moving)
    h, w = moving.shape
    people: list[Person] = []
    for label in range(1, count):
        x, y, bw, bh, _area = (int(v) for v in stats[label])
        if bh < MIN_PERSON_PX or not ASPECT_RANGE[0] <= bh / bw <= ASPECT_RANGE[1]:
            continue
        if y == 0 or x == 0 or x + bw == w:  # cut by the image: the head may be outside
            continue
        region = (labels == label).astype(np.uint8)
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        outline = max(contours, key=cv2.contourArea).reshape(-1, 2)
        box = (x, y, x + bw, y + bh)
        people.append(Person(outline.astype(np.int32), box, head_box(region, box)))
    return people


def _scaled(person: Person, factor: float, offset: tuple[int, int]) -> Person:
    ox, oy = offset

    def box(b: Box) -> Box:
        return (
            ox + int(np.floor(b[0] * factor)),
            oy + int(np.floor(b[1] * factor)),
            ox + int(np.ceil(b[2] * factor)),
            oy + int(np.ceil(b[3] * factor)),
        )

    body = np.round(person.body * factor).astype(np.int32) + np.array([ox, oy], np.int32)
    return Person(body, box(person.box), box(person.head))


def mosaic(
    frames: Sequence[np.ndarray], people: Sequence[Sequence[Person]], layout: Layout
) -> tuple[np.ndarray, list[Person]]:
    """`columns`×`rows` frames side by side at the layout's cell size, with their people."""
    cw, ch = layout.cell
    if len(frames) != layout.columns * layout.rows or len(people) != len(frames):
        raise ValueError(f"{layout.name} needs {layout.columns * layout.rows} frames")
    width, height = layout.size
    image = np.zeros((height, width, 3), np.uint8)
    placed: list[Person] = []
    for i, (frame, found) in enumerate(zip(frames, people, strict=True)):
        col, row = i % layout.columns, i // layout.columns
        fh, fw = frame.shape[:2]
        factor = cw / fw
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        image[row * ch : (row + 1) * ch, col * cw : (col + 1) * cw] = cv2.resize(
            frame, (cw, ch), interpolation=interpolation
        )
        placed.extend(_scaled(p, factor, (col * cw, row * ch)) for p in found)
    return image, placed


def empty_mosaic(empty: np.ndarray, layout: Layout) -> np.ndarray:
    """A person-free frame of the layout: the empty scene in every cell, every other one mirrored
    (tripods, cones, signs and a lamp post stay: what a detector must not take for people)."""
    cells = [empty if i % 2 == 0 else empty[:, ::-1] for i in range(layout.columns * layout.rows)]
    image, _ = mosaic(cells, [[] for _ in cells], layout)
    return image


def frame_indices(total: int, count: int, start: int = 0) -> list[int]:
    """`count` moments spread over the video, distinct, starting at `start`."""
    if count > total:
        raise ValueError(f"the video has {total} frames, {count} wanted")
    step = total / count
    return [(start + int(i * step)) % total for i in range(count)]


# --- I/O --------------------------------------------------------------------------------------


def fetch_video(cache_dir: Path, archive: str | None = None) -> Path:
    """`vtest.avi`, extracted once from the pinned, sha256-checked `opencv-doc` package."""
    (video,) = opencv_doc.fetch(["vtest.avi"], cache_dir, archive)
    return video


def read_video(path: Path) -> list[np.ndarray]:
    """Every frame, RGB."""
    capture = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if not frames:
        raise RuntimeError(f"{path}: no frame could be decoded")
    return frames


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"could not write {path}")


def build(
    output: Path,
    cache_dir: Path,
    layouts: Sequence[str],
    per_layout: int,
    archive: str | None,
    person_free: bool = True,
) -> Path:
    """Write the mosaics as JPEGs and `annotations.json` (evaluation/external.py's format); with
    `person_free`, also one mosaic of the empty scene per layout."""
    frames = read_video(fetch_video(cache_dir, archive))
    empty = empty_scene(frames)
    output.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, object]] = []
    start = 0
    for name in layouts:
        layout = LAYOUTS[name]
        cells = layout.columns * layout.rows
        for n in range(per_layout):
            picked = [frames[i] for i in frame_indices(len(frames), cells, start)]
            start += 7  # the next mosaic shows other moments
            image, people = mosaic(picked, [people_in(f, empty) for f in picked], layout)
            file = f"cctv-{name}-{n + 1}.jpg"
            _write_jpeg(output / file, image)
            entries.append(
                {
                    "image": file,
                    "people": [
                        {"face": list(p.head), "body": p.body.tolist()}
                        for p in people
                        if len(p.body) >= 3
                    ],
                }
            )
        if person_free:
            file = f"cctv-{name}-empty.jpg"
            _write_jpeg(output / file, empty_mosaic(empty, layout))
            entries.append({"image": file, "people": []})
    path = output / "annotations.json"
    path.write_text(json.dumps({"frames": entries}) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evaluation.cctv", description=__doc__)
    p.add_argument("--output", type=Path, default=REPO_ROOT / "eval-output" / "cctv-scenes")
    p.add_argument("--cache-dir", type=Path, default=opencv_doc.CACHE_DIR)
    p.add_argument(
        "--layouts", nargs="+", choices=list(LAYOUTS), default=list(LAYOUTS), metavar="LAYOUT"
    )
    p.add_argument("--per-layout", type=int, default=1, help="mosaics per layout")
    p.add_argument(
        "--no-person-free",
        dest="person_free",
        action="store_false",
        help="leave out the person-free mosaic of the empty scene (one per layout by default)",
    )
    p.add_argument("--archive", help="Debian archive URL (default: the one apt uses)")
    args = p.parse_args(argv)
    try:
        path = build(
            args.output,
            args.cache_dir,
            args.layouts,
            args.per_layout,
            args.archive,
            args.person_free,
        )
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    document = json.loads(path.read_text())
    people = sum(len(f["people"]) for f in document["frames"])
    print(f"wrote {path}: {len(document['frames'])} frame(s), {people} annotated people")
    return 0


if __name__ == "__main__":
    sys.exit(main())
