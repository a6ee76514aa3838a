"""Frames annotated elsewhere, for checks on scenes this package did not generate.

An annotation file (JSON) lists images beside it, each with its people:

    {"frames": [{"image": "site/cam1-0001.jpg",
                 "people": [{"face": [x0, y0, x1, y1],
                             "body": [[x, y], [x, y], [x, y], ...]}]}]}

`face` is the face box (pixels, x1/y1 exclusive). `body` is the person's outline as a polygon of
three or more points, or a box [x0, y0, x1, y1]. An image may list no people (a person-free frame).
Images are uploaded as they are (JPEG, PNG or WebP); a frame's resolution is named after its size
("1080p" for 1920×1080, "4k" for 3840×2160, otherwise "<w>x<h>").
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from evaluation.runner import EvalError, Frame
from evaluation.scenes import PlacedPerson

_EXTENSIONS = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "webp": "webp"}
_NAMED = {(1920, 1080): "1080p", (3840, 2160): "4k", (960, 540): "540p"}


def resolution_name(width: int, height: int) -> str:
    return _NAMED.get((width, height), f"{width}x{height}")


def _image_id(stem: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")[:56] or "frame"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _numbers(value: Any, where: str) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(v, int | float) for v in value):
        raise EvalError(f"{where}: expected a list of numbers, got {value!r}")
    return [float(v) for v in value]


def _person(entry: Any, size: tuple[int, int], where: str) -> PlacedPerson:
    if not isinstance(entry, dict) or "face" not in entry or "body" not in entry:
        raise EvalError(f"{where}: each person needs `face` and `body`")
    w, h = size
    fx0, fy0, fx1, fy1 = (round(v) for v in _numbers(entry["face"], f"{where}.face"))
    if len(entry["face"]) != 4 or not (0 <= fx0 < fx1 <= w and 0 <= fy0 < fy1 <= h):
        raise EvalError(f"{where}.face: {entry['face']} is not a box inside the {w}×{h} image")
    body = entry["body"]
    mask = np.zeros((h, w), np.uint8)
    if isinstance(body, list) and body and all(isinstance(p, list) for p in body):
        points = np.array([_numbers(p, f"{where}.body") for p in body])
        if len(points) < 3 or points.shape[1] != 2:
            raise EvalError(f"{where}.body: a polygon needs three or more [x, y] points")
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    else:
        x0, y0, x1, y1 = (round(v) for v in _numbers(body, f"{where}.body"))
        if len(body) != 4 or not (x0 < x1 and y0 < y1):
            raise EvalError(f"{where}.body: expected a polygon or a box [x0, y0, x1, y1]")
        mask[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)] = 1
    if not mask.any():
        raise EvalError(f"{where}.body: the outline covers no pixel of the image")
    bx, by, bw, bh = cv2.boundingRect(mask)
    return PlacedPerson(
        source=where,
        box=(bx, by, bx + bw, by + bh),
        body=mask[by : by + bh, bx : bx + bw].astype(bool),
        face=(fx0, fy0, fx1, fy1),
        grey=False,
        mirrored=False,
        gain=1.0,
    )


def load_frames(annotations: Path) -> list[Frame]:
    """The annotated frames of `annotations`, images read from paths relative to it."""
    try:
        document = json.loads(annotations.read_text())
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read the annotations {annotations}: {exc}") from exc
    entries = document.get("frames") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise EvalError(f'{annotations}: expected {{"frames": [...]}} with at least one frame')
    frames: list[Frame] = []
    taken: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"frames[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
            raise EvalError(f"{where}: each frame needs an `image` path")
        path = annotations.parent / entry["image"]
        ext = _EXTENSIONS.get(path.suffix.lower().lstrip("."))
        if ext is None:
            raise EvalError(f"{where}: {path.name} is not a .jpg, .png or .webp file")
        try:
            data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as image:
                size = image.size
        except (OSError, ValueError) as exc:
            raise EvalError(f"{where}: cannot read the image {path}: {exc}") from exc
        people = entry.get("people", [])
        if not isinstance(people, list):
            raise EvalError(f"{where}.people: expected a list")
        placed = tuple(_person(p, size, f"{where}.people[{i}]") for i, p in enumerate(people))
        frames.append(
            Frame(
                name=_image_id(path.stem, taken),
                resolution=resolution_name(*size),
                data=data,
                people=placed,
                ext=ext,
            )
        )
    return frames
