"""Site-camera scenes with ground truth: people of known size pasted over procedural site ground.

A scene is a 1080p or 4K frame of gravel/concrete noise with scaffolding and machinery-coloured
blocks, and several non-overlapping people (portraits, photographed whole bodies and drawn workers
from `evaluation.sources`)
at heights from 40 to 800 px, in colour or grey, mirrored or not, lighter or darker. Person-free
frames use the same ground. Every choice comes from one seeded generator: the same seed gives the
same frames, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from evaluation.sources import PORTRAITS, WHOLE_BODIES, Box, Person, portrait_person, worker

RESOLUTIONS: dict[str, tuple[int, int]] = {
    "1080p": (1920, 1080),
    "4k": (3840, 2160),
    "540p": (960, 540),
}
DEFAULT_RESOLUTIONS = ("1080p", "4k")  # what site cameras record; 540p is for quick checks
# Person heights in px: [low, high] of each bin, inclusive.
HEIGHT_BINS: tuple[tuple[int, int], ...] = ((40, 63), (64, 95), (96, 159), (160, 319), (320, 800))
GAP_PX = 8  # people never touch: their boxes keep this distance
# Drawn workers come from a 25×25 face: above this height they would be mostly upscaling blur.
WORKER_MAX_HEIGHT = 320
# The whole-body photographs are 275 and 400 px tall: at most about 1.5 times that.
WHOLE_BODY_MAX_HEIGHT = 420


@dataclass(frozen=True, slots=True)
class PlacedPerson:
    """Ground truth of one pasted person, in frame pixels."""

    source: str
    box: Box  # x0, y0, x1, y1 of the body's bounding rectangle
    body: np.ndarray  # bool mask of the body, the size of `box`
    face: Box
    grey: bool
    mirrored: bool
    gain: float  # brightness factor applied (< 1 darker, > 1 lighter)

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    def body_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The body as a mask of a whole frame of `shape` (height, width)."""
        mask = np.zeros(shape, bool)
        x0, y0, x1, y1 = self.box
        mask[y0:y1, x0:x1] = self.body
        return mask


@dataclass(frozen=True, slots=True)
class Scene:
    name: str  # also the upload's image id: [a-z0-9-]
    resolution: str
    rgb: np.ndarray  # H×W×3 uint8
    people: tuple[PlacedPerson, ...]


def height_bin(height: int) -> tuple[int, int] | None:
    """The bin a person height falls in, or None outside 40..800."""
    return next(((lo, hi) for lo, hi in HEIGHT_BINS if lo <= height <= hi), None)


def bin_label(bounds: tuple[int, int]) -> str:
    return f"{bounds[0]}-{bounds[1]}"


def _noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth isotropic noise with unit spread and blobs about 1/`cells` of the width across:
    white noise on a coarse grid, Gaussian-blurred there (no lattice shows), then scaled up."""
    h, w = shape
    grid_w = max(8, cells * 4)
    grid_h = max(8, grid_w * h // w)
    white = rng.normal(0, 1, (grid_h, grid_w)).astype(np.float32)
    small = cv2.GaussianBlur(white, (0, 0), 2.0)
    unit = (small / max(float(small.std()), 1e-6)).astype(np.float32)
    return cv2.resize(unit, (w, h), interpolation=cv2.INTER_CUBIC)


def background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Site ground: multi-scale gravel/concrete noise, then scaffolding and machinery blocks."""
    w, h = size
    level = rng.uniform(85, 150)  # concrete grey to dusty sand
    base = np.array(
        [level + rng.uniform(0, 14), level + rng.uniform(-4, 8), level - rng.uniform(0, 22)],
        np.float32,
    )
    grain = (
        22 * _noise(rng, (h, w), 5)
        + 10 * _noise(rng, (h, w), 40)
        + 6 * _noise(rng, (h, w), 240)
        + rng.normal(0, 14, (h, w)).astype(np.float32)
    )
    rgb = np.clip(base + grain[..., None], 0, 255).astype(np.uint8)
    scale = w / 1920
    for _ in range(int(rng.integers(3, 7))):  # containers, machines, pallets
        bw, bh = (int(v * scale) for v in rng.uniform(80, 420, 2))
        x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
        colour = [(230, 180, 30), (200, 60, 40), (40, 80, 160), (90, 110, 60), (150, 150, 150)][
            int(rng.integers(5))
        ]
        cv2.rectangle(rgb, (x, y), (x + bw, y + bh), colour, -1)
        for rx in range(x, x + bw, max(4, int(14 * scale))):  # corrugation
            cv2.line(rgb, (rx, y), (rx, y + bh), tuple(int(c * 0.75) for c in colour), 1)
    if rng.random() < 0.7:  # scaffolding: a grid of tubes over part of the frame
        x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
        step = max(20, int(rng.uniform(60, 160) * scale))
        thick = max(2, int(4 * scale))
        tube = (170, 170, 175) if rng.random() < 0.5 else (200, 120, 40)
        for x in range(x0, x1 + 1, step):
            cv2.line(rgb, (x, y0), (x, y1), tube, thick)
        for y in range(y0, y1 + 1, step):
            cv2.line(rgb, (x0, y), (x1, y), tube, thick)
        cv2.line(rgb, (x0, y0), (x1, y1), tube, thick)  # a brace
    return rgb


def _variant(person: Person, rng: np.random.Generator) -> tuple[Person, bool, bool, float]:
    """The person in grey or colour, mirrored or not, lighter or darker."""
    rgb, body, face = person.rgb, person.body, person.face
    grey = bool(rng.random() < 0.35)
    mirrored = bool(rng.random() < 0.5)
    gain = (float(rng.uniform(0.55, 0.85)), 1.0, float(rng.uniform(1.15, 1.4)))[
        int(rng.integers(3))
    ]
    if grey:
        rgb = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=-1)
    if mirrored:
        w = rgb.shape[1]
        rgb, body = rgb[:, ::-1], body[:, ::-1]
        face = (w - face[2], face[1], w - face[0], face[3])
    if gain != 1.0:
        rgb = np.clip(rgb.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    variant = Person(person.name, np.ascontiguousarray(rgb), np.ascontiguousarray(body), face)
    return variant, grey, mirrored, gain


def _scaled(person: Person, height: int) -> Person:
    """The person resized to `height` px tall (aspect kept); body mask and face box with it."""
    h, w = person.body.shape
    factor = height / h
    width = max(4, round(w * factor))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    rgb = cv2.resize(person.rgb, (width, height), interpolation=interp)
    body = cv2.resize(
        person.body.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR
    )
    x0, y0, x1, y1 = person.face
    fx = width / w
    face = (
        int(np.floor(x0 * fx)),
        int(np.floor(y0 * factor)),
        max(int(np.floor(x0 * fx)) + 1, int(np.ceil(x1 * fx))),
        max(int(np.floor(y0 * factor)) + 1, int(np.ceil(y1 * factor))),
    )
    face = (face[0], face[1], min(face[2], width), min(face[3], height))
    return Person(person.name, rgb, body >= 0.5, face)


def _overlaps(a: Box, b: Box, gap: int) -> bool:
    return not (
        a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]
    )


KINDS = ("portrait", "whole", "drawn")  # portraits, photographed whole bodies, drawn workers


class _Cast:
    """Who to paste next: the `kinds` in turn (a whole body and a drawn worker only up to the
    heights they are sharp at, a portrait otherwise), each a fresh variant."""

    def __init__(self, rng: np.random.Generator, kinds: Sequence[str] = KINDS) -> None:
        if not kinds or set(kinds) - set(KINDS):
            raise ValueError(f"kinds must be some of {', '.join(KINDS)}, got {list(kinds)}")
        self.rng = rng
        self.kinds = tuple(kinds)
        self.portraits = [p for p in (portrait_person(s) for s in PORTRAITS) if p is not None]
        wanted = WHOLE_BODIES if "whole" in self.kinds else ()
        self.whole = [p for p in (portrait_person(s) for s in wanted) if p is not None]
        self.turn = 0

    def pick(self, height: int) -> Person:
        self.turn += 1
        kind = self.kinds[self.turn % len(self.kinds)]
        if kind == "whole" and self.whole and height <= WHOLE_BODY_MAX_HEIGHT:
            return self.whole[int(self.rng.integers(len(self.whole)))]
        if kind == "drawn" and height <= WORKER_MAX_HEIGHT or not self.portraits:
            return worker(int(self.rng.integers(100)), self.rng)
        return self.portraits[int(self.rng.integers(len(self.portraits)))]


def paste(
    frame: np.ndarray, person: Person, height: int, at: tuple[int, int]
) -> tuple[Person, Box]:
    """Paste `person` scaled to `height` with its top-left at `at`; the scaled person and box."""
    scaled = _scaled(person, height)
    x, y = at
    h, w = scaled.body.shape
    region = frame[y : y + h, x : x + w]
    region[scaled.body] = scaled.rgb[scaled.body]
    return scaled, (x, y, x + w, y + h)


def make_scene(
    name: str,
    resolution: str,
    heights: Sequence[int],
    rng: np.random.Generator,
    cast: _Cast | None = None,
) -> Scene:
    """One frame with a person of each of `heights` (fewer if they cannot all fit apart)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}; one of {', '.join(RESOLUTIONS)}")
    size = RESOLUTIONS[resolution]
    w, h = size
    frame = background(rng, size)
    cast = cast or _Cast(rng)
    placed: list[PlacedPerson] = []
    for height in sorted(heights, reverse=True):  # the large first: they are hardest to fit
        if height_bin(height) is None or height > h:
            raise ValueError(f"person height {height} is outside 40..800 or the frame")
        source = cast.pick(height)
        variant, grey, mirrored, gain = _variant(source, rng)
        width = max(4, round(variant.body.shape[1] * height / variant.body.shape[0]))
        for _ in range(200):
            x, y = int(rng.integers(0, w - width + 1)), int(rng.integers(0, h - height + 1))
            box = (x, y, x + width, y + height)
            if not any(_overlaps(box, p.box, GAP_PX) for p in placed):
                break
        else:
            continue  # no room left for this one in this frame
        scaled, box = paste(frame, variant, height, (x, y))
        fx0, fy0, fx1, fy1 = scaled.face
        placed.append(
            PlacedPerson(
                source=source.name,
                box=box,
                body=scaled.body,
                face=(x + fx0, y + fy0, x + fx1, y + fy1),
                grey=grey,
                mirrored=mirrored,
                gain=gain,
            )
        )
    return Scene(name, resolution, frame, tuple(placed))


def scenes(
    *,
    seed: int,
    frames_per_resolution: int,
    person_free: int,
    resolutions: Sequence[str] = DEFAULT_RESOLUTIONS,
    people_per_frame: int = 8,
    kinds: Sequence[str] = KINDS,
) -> Iterator[Scene]:
    """The evaluation set, one frame at a time (4K frames are 25 MB each: do not hold them all).

    Heights go round the bins so that every bin gets about the same number of people; within a
    bin they are log-uniform. Person-free frames come last, at each resolution in turn.
    """
    for resolution in resolutions:
        if resolution not in RESOLUTIONS:
            raise ValueError(f"unknown resolution {resolution!r}; one of {', '.join(RESOLUTIONS)}")
    if frames_per_resolution < 0 or person_free < 0 or people_per_frame < 1:
        raise ValueError("frame counts must be >= 0 and people_per_frame >= 1")
    rng = np.random.default_rng(seed)
    cast = _Cast(rng, kinds)
    turn = 0
    for resolution in resolutions:
        frame_h = RESOLUTIONS[resolution][1]
        for index in range(frames_per_resolution):
            heights = []
            for _ in range(people_per_frame):
                lo, hi = HEIGHT_BINS[turn % len(HEIGHT_BINS)]
                turn += 1
                hi = min(hi, frame_h * 3 // 4)
                height = int(np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))))
                heights.append(min(max(height, lo), hi))
            yield make_scene(f"{resolution}-people-{index:03d}", resolution, heights, rng, cast)
    for index in range(person_free):
        resolution = resolutions[index % len(resolutions)]
        size = RESOLUTIONS[resolution]
        yield Scene(f"{resolution}-empty-{index:03d}", resolution, background(rng, size), ())
