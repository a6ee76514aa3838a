"""Drive the real local stack with evaluation scenes and measure what comes back.

For each model set: start the stack (moto, Triton, the transformer under Gunicorn, the relay),
upload every frame to `incoming/<tenant>/<yyyy>/<mm>/<dd>/<image-id>.<ext>` as the end-to-end tests
do, wait for each `result.json`, fetch `anonymized.jpg` and `mask.png`, and score each person's
face and body against the ground truth. The CPU of the transformer's and Triton's process trees
is sampled around the batch.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evaluation import cpu
from evaluation.metrics import (
    body_coverage,
    detail_correlation,
    detail_kept,
    face_unrecognisable,
    masked_share,
)
from evaluation.sources import is_drawn
from evaluation.scenes import PlacedPerson, Scene, bin_label, height_bin
from stack.config import PRIVACY_MODELS, StackConfig
from stack.lifecycle import down, running_stack
from stack.uploads import StackClient, wait_for_outcomes

TENANT = "eval"
JPEG_QUALITY = 90  # what a site camera's encoder typically writes
DEFAULT_MODELS: tuple[str, ...] = PRIVACY_MODELS


class EvalError(Exception):
    """The evaluation cannot run as asked (missing model, bad option); the message says why."""


@dataclass(frozen=True, slots=True)
class Frame:
    """A scene as uploaded: the encoded bytes and the ground truth (pixels dropped to save
    memory). `name` is also the upload's image id."""

    name: str
    resolution: str
    data: bytes
    people: tuple[PlacedPerson, ...]
    ext: str = "jpg"


@dataclass(frozen=True, slots=True)
class PersonScore:
    frame: str
    resolution: str
    source: str
    height: int
    height_bin: str
    face_px: tuple[int, int]  # width, height
    grey: bool
    mirrored: bool
    gain: float
    face_correlation: float | None  # None when the frame came back without a result
    face_detail_kept: float | None  # the verdict's score (evaluation.metrics.detail_kept)
    face_unrecognisable: bool
    body_coverage: float
    drawn: bool = False  # a drawn worker, not a photographed person: reported apart from goals


@dataclass(frozen=True, slots=True)
class FrameScore:
    frame: str
    resolution: str
    people: int
    people_share: float  # of the frame's pixels, by the ground truth
    masked_share: float | None  # None when the frame came back without a result


@dataclass
class ModelSetRun:
    models: tuple[str, ...]
    people: list[PersonScore] = field(default_factory=list)
    frames: list[FrameScore] = field(default_factory=list)
    failures: list[dict[str, str | None]] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    idle_cpu_seconds_per_s: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    images: int = 0
    served_models: list[Any] = field(default_factory=list)

    @property
    def person_free(self) -> list[FrameScore]:
        return [f for f in self.frames if f.people == 0]

    @property
    def with_people(self) -> list[FrameScore]:
        return [f for f in self.frames if f.people > 0]


def encode_frame(scene: Scene) -> Frame:
    buffer = io.BytesIO()
    Image.fromarray(scene.rgb).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return Frame(scene.name, scene.resolution, buffer.getvalue(), scene.people)


def decode_rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def decode_mask(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L")) > 127


def stack_config(models: Sequence[str], state_dir: Path, **options: Any) -> StackConfig:
    """The stack's settings for a model set: every model runs on every image; the first is the
    one KServe names (`--model_name`)."""
    models = tuple(models)
    if not models:
        raise EvalError("a model set needs at least one model")
    return StackConfig(state_dir=state_dir, model_name=models[0], models=models, **options)


def check_models(models: Sequence[str], repository: Path) -> None:
    missing = [m for m in models if not (repository / m / "config.pbtxt").is_file()]
    if missing:
        raise EvalError(
            f"no model {', '.join(missing)} in {repository} (each needs <name>/config.pbtxt); "
            "build the demo model with `make model`"
        )


def score_frame(
    frame: Frame, anonymized: np.ndarray | None, mask: np.ndarray | None
) -> tuple[list[PersonScore], FrameScore]:
    """Score one returned frame against its ground truth. A frame without a result (failed,
    timed out) scores as nothing anonymized: every face recognisable, no body covered.

    The reference is the frame as uploaded (decoded JPEG), so an untouched face scores ≈ 1
    whatever the camera's compression did to it.
    """
    original = decode_rgb(frame.data)
    if anonymized is not None and (
        anonymized.shape != original.shape or mask is None or mask.shape != original.shape[:2]
    ):
        raise EvalError(f"{frame.name}: the result's size differs from the upload's")
    share = masked_share(mask) if mask is not None else None
    scores = []
    for person in frame.people:
        bounds = height_bin(person.height)
        label = bin_label(bounds) if bounds else ("<40" if person.height < 40 else ">800")
        correlation = kept = None
        if anonymized is not None:
            correlation = detail_correlation(original, anonymized, person.face)
            kept = detail_kept(original, anonymized, person.face)
        x0, y0, x1, y1 = person.box
        coverage = body_coverage(mask[y0:y1, x0:x1], person.body) if mask is not None else 0.0
        fx0, fy0, fx1, fy1 = person.face
        scores.append(
            PersonScore(
                frame=frame.name,
                resolution=frame.resolution,
                source=person.source,
                height=person.height,
                height_bin=label,
                face_px=(fx1 - fx0, fy1 - fy0),
                grey=person.grey,
                mirrored=person.mirrored,
                gain=round(person.gain, 3),
                face_correlation=correlation,
                face_detail_kept=kept,
                face_unrecognisable=kept is not None and face_unrecognisable(kept),
                body_coverage=coverage,
                drawn=is_drawn(person.source),
            )
        )
    area = original.shape[0] * original.shape[1]
    people_share = sum(int(p.body.sum()) for p in frame.people) / area
    return scores, FrameScore(frame.name, frame.resolution, len(frame.people), people_share, share)


def run_model_set(
    frames: Sequence[Frame],
    models: Sequence[str],
    *,
    state_dir: Path,
    timeout_s: float,
    idle_s: float = 3.0,
    log: Callable[[str], None] = print,
    stack_options: dict[str, Any] | None = None,
    keep_dir: Path | None = None,
) -> ModelSetRun:
    """Run every frame through a fresh stack serving `models`; the scores and CPU spent.

    With `keep_dir`, each returned anonymized image and mask is written there as
    `<frame>.anonymized.<ext>` / `<frame>.mask.png`, with its `<frame>.result.json` (every
    detection), to look at.
    """
    config = stack_config(models, state_dir, **(stack_options or {}))
    check_models(models, config.model_repository)
    down(config)  # the eval owns its state dir: clear what a killed run left behind
    run = ModelSetRun(models=tuple(models))
    log(f"[{'+'.join(models)}] starting the stack (logs in {config.logs_dir}) ...")
    with running_stack(config) as state:
        client = StackClient(state)
        pids = {"transformer": state.pids["transformer"], "triton": state.pids["triton"]}
        if frames:  # first calls load sessions and read model configs: keep that out of the CPU
            first = frames[0]
            warm = client.upload(
                first.data, tenant=TENANT, image_id=f"warm-up-{first.name}"[:64], ext=first.ext
            )
            [warmed] = wait_for_outcomes(client, [warm], timeout_s=timeout_s, poll_s=0.25)
            if warmed.status != "anonymized":
                log(
                    f"[{'+'.join(models)}] the warm-up image ended {warmed.status}: {warmed.reason}"
                )
        # What the servers burn doing nothing (health polls, Triton's threads), to subtract.
        idle_start, idle_t0 = cpu.sample(pids), time.monotonic()
        time.sleep(idle_s)
        idle = cpu.spent(idle_start, cpu.sample(pids))
        idle_wall = time.monotonic() - idle_t0
        run.idle_cpu_seconds_per_s = {k: v / idle_wall for k, v in idle.items()}

        log(f"[{'+'.join(models)}] uploading {len(frames)} frame(s) ...")
        before, t0 = cpu.sample(pids), time.monotonic()
        uploads = [client.upload(f.data, tenant=TENANT, image_id=f.name, ext=f.ext) for f in frames]
        outcomes = wait_for_outcomes(client, uploads, timeout_s=timeout_s, poll_s=0.25)
        run.wall_s = time.monotonic() - t0
        run.cpu_seconds = cpu.spent(before, cpu.sample(pids))
        run.images = len(frames)
        log(f"[{'+'.join(models)}] {len(frames)} result(s) in {run.wall_s:.1f} s; scoring ...")

        served: dict[str, Any] = {}
        for frame, outcome in zip(frames, outcomes, strict=True):
            anonymized = mask = None
            record = outcome.record or {}
            outputs = record.get("outputs")
            if outcome.status == "anonymized" and outputs:
                anonymized_bytes = client.get(outputs["bucket"], outputs["anonymized"])
                mask_bytes = client.get(outputs["bucket"], outputs["mask"])
                if anonymized_bytes is None or mask_bytes is None:
                    raise EvalError(f"{frame.name}: result.json names outputs that are missing")
                anonymized, mask = decode_rgb(anonymized_bytes), decode_mask(mask_bytes)
                if keep_dir is not None:
                    keep_dir.mkdir(parents=True, exist_ok=True)
                    suffix = outputs["anonymized"].rsplit(".", 1)[-1]
                    anonymized_name = f"{frame.name}.anonymized.{suffix}"
                    (keep_dir / anonymized_name).write_bytes(anonymized_bytes)
                    (keep_dir / f"{frame.name}.mask.png").write_bytes(mask_bytes)
                    (keep_dir / f"{frame.name}.result.json").write_text(
                        json.dumps(record, indent=1) + "\n"
                    )
                for ref in record.get("models") or [record["model"]]:
                    name, version, role = ref["name"], ref.get("version"), ref.get("role")
                    served[repr((name, version, role))] = {
                        "name": name,
                        "version": version,
                        "role": role,
                    }
            else:
                run.failures.append(
                    {"frame": frame.name, "status": outcome.status, "reason": outcome.reason}
                )
            people, frame_score = score_frame(frame, anonymized, mask)
            run.people.extend(people)
            run.frames.append(frame_score)
        run.served_models = list(served.values())
    return run
