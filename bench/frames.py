"""The frames the bench uploads: distinct 1080p / 4K site-camera JPEGs with people in them.

A few scenes per resolution come from the privacy evaluation's generator (`evaluation.scenes`:
portraits and drawn workers from 40 to 800 px over procedural site ground, as before whole-body
photographs joined the evaluation, so the frames and the figures measured on them stay the same;
each frame has a large portrait that the segmenter, the bench's one model, finds, so no mask is
empty). Generating a scene costs about a second here,
so each frame is one of those scenes mirrored or not, shifted sideways and lightened or
darkened by its own amounts: every frame has different pixels and a different JPEG, the
transformer's work per frame stays that of a real scene.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import simplejpeg

from evaluation.scenes import RESOLUTIONS, scenes

BENCH_RESOLUTIONS = ("1080p", "4k")
JPEG_QUALITY = 90  # what a site camera's encoder typically writes (the evaluation's too)
BASE_SCENES = 6
PEOPLE_PER_FRAME = 6
# in turn from the first person: a portrait, then a drawn worker (`evaluation.scenes.KINDS`)
BENCH_KINDS = ("drawn", "portrait")


@dataclass(frozen=True, slots=True)
class Frame:
    """One upload: its image id (also the key's file name), resolution and JPEG bytes."""

    image_id: str
    resolution: str
    width: int
    height: int
    data: bytes


def variant(rgb: np.ndarray, index: int, rng: np.random.Generator) -> np.ndarray:
    """A distinct frame from a scene: mirrored on odd indices, rolled sideways, a gain of ±8 %."""
    out = rgb[:, ::-1] if index % 2 else rgb
    shift = int(rng.integers(1, rgb.shape[1]))
    out = np.roll(out, shift, axis=1)
    gain = float(rng.uniform(0.92, 1.08))
    return np.clip(out.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def make_frames(resolution: str, count: int, *, seed: int = 11, prefix: str = "") -> list[Frame]:
    """`count` distinct JPEG frames at `resolution` ("1080p" or "4k"), the same for a seed."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}; one of {', '.join(RESOLUTIONS)}")
    if count < 0:
        raise ValueError("count must be >= 0")
    if count == 0:
        return []
    width, height = RESOLUTIONS[resolution]
    bases = [
        s.rgb
        for s in scenes(
            seed=seed,
            frames_per_resolution=min(BASE_SCENES, count),
            person_free=0,
            resolutions=(resolution,),
            people_per_frame=PEOPLE_PER_FRAME,
            kinds=BENCH_KINDS,
        )
    ]
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(count):
        base = bases[index % len(bases)]
        rgb = base if index < len(bases) else variant(base, index, rng)
        data = simplejpeg.encode_jpeg(
            np.ascontiguousarray(rgb), quality=JPEG_QUALITY, colorspace="RGB"
        )
        frames.append(Frame(f"{prefix}{resolution}-{index:04d}", resolution, width, height, data))
    return frames


def all_frames(counts: dict[str, int], *, seed: int = 11) -> dict[str, list[Frame]]:
    """Frames per resolution, e.g. {"1080p": 100, "4k": 24}."""
    return {res: make_frames(res, n, seed=seed) for res, n in counts.items()}


def distinct(frames: Sequence[Frame]) -> bool:
    """True when no two frames carry the same bytes."""
    return len({f.data for f in frames}) == len(frames)
