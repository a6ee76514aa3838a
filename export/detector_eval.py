"""Measure a face detector on frames we make: recall by face size, and person-free frames.

The figures behind a detector's ``siteveil.score_threshold`` / ``min_object_px`` /
``max_object_px``: faces from scikit-image (astronaut, cameraman, LFW) pasted at known heights
over textured ground, in the model's input tile; and frames with nobody in them (the launch pad,
a cafe table, textures, noise, some upscaled 2× as the transformer's tiling does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from export import samples
from export.detection_parity import DetectionRunner, box_iou, nms
from export.fetch import WheelMember

ToInput = Callable[[np.ndarray], np.ndarray]  # uint8 RGB tile -> 1×… model tensor

DEFAULT_HEIGHTS = (12, 16, 20, 24, 28, 32, 40, 48, 64, 96, 128, 192, 256, 384, 512)
DEFAULT_THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
MATCH_IOU = 0.3  # a detection "finds" a face when it overlaps the pasted face box this much


def group_of(crop_name: str) -> str:
    """``photo``: a head with hair and shoulders (astronaut, cameraman); ``lfw``: a tight 25×25
    grey LFW face, upscaled (no context, the hard case)."""
    return "lfw" if crop_name.startswith("lfw") else "photo"


GROUPS = ("photo", "lfw")


@dataclass(frozen=True)
class SizeResult:
    face_px: int
    faces: dict[str, int]  # group -> faces pasted
    found: dict[str, dict[str, int]]  # group -> threshold -> faces found
    false_boxes: dict[str, int]  # threshold -> boxes on no face

    def recall(self, threshold: float, group: str | None = None) -> float:
        groups = [group] if group else list(self.faces)
        faces = sum(self.faces[g] for g in groups)
        found = sum(self.found[g][f"{threshold:g}"] for g in groups)
        return found / faces if faces else 0.0


@dataclass(frozen=True)
class Measurement:
    input_size: tuple[int, int]
    thresholds: tuple[float, ...]
    sizes: tuple[SizeResult, ...]
    negatives: dict[str, float]  # frame -> best score on it
    informational: dict[str, float] = field(default_factory=dict)  # not used for the choice
    ms_per_tile: float = 0.0

    def clean_threshold(self, margin: float = 0.05) -> float:
        """The lowest candidate threshold at least ``margin`` above every person-free score that
        puts no box beside the faces of any scene (privacy wants it low, precision not zero)."""
        worst = max(self.negatives.values(), default=0.0)
        for t in self.thresholds:
            if t >= worst + margin and not any(s.false_boxes[f"{t:g}"] for s in self.sizes):
                return t
        return self.thresholds[-1]

    def min_reliable_px(
        self, threshold: float, recall: float = 0.9, group: str | None = "photo"
    ) -> int | None:
        """The smallest face height from which every larger tested height reaches ``recall``."""
        best = None
        for size in sorted(self.sizes, key=lambda s: s.face_px, reverse=True):
            if size.recall(threshold, group) < recall:
                break
            best = size.face_px
        return best

    def max_reliable_px(
        self, threshold: float, recall: float = 0.9, group: str | None = "photo"
    ) -> int | None:
        """The largest tested face height that reaches ``recall``."""
        good = [s.face_px for s in self.sizes if s.recall(threshold, group) >= recall]
        return max(good) if good else None

    def recommended(self) -> dict[str, float | int | None]:
        """The config values the measurement supports (the rule export/README.md states)."""
        t = self.clean_threshold()
        photo = self.min_reliable_px(t, 0.9, "photo")
        overall = next(
            (s.face_px for s in sorted(self.sizes, key=lambda s: s.face_px) if s.recall(t) >= 0.9),
            None,
        )
        low = max(photo, overall) if photo is not None and overall is not None else None
        return {
            "score_threshold": t,
            "min_object_px": low,
            "max_object_px": self.max_reliable_px(t, 0.9, "photo"),
        }

    def table(self, focus: float | None = None) -> str:
        head = " ".join(f"{'t=' + format(t, 'g'):>7}" for t in self.thresholds)
        focus = focus if focus is not None else self.clean_threshold()
        lines = [f"recall by face height (input px), {self.input_size[0]}×{self.input_size[1]}"]
        lines.append(
            f"{'face px':>8} {'faces':>6} {head}   {'photo':>6} {'lfw':>6} @t={focus:g}"
            "   false boxes @t"
        )
        for s in self.sizes:
            recalls = " ".join(f"{s.recall(t):>7.2f}" for t in self.thresholds)
            groups = " ".join(f"{s.recall(focus, g):>6.2f}" for g in GROUPS)
            fps = ",".join(str(s.false_boxes[f"{t:g}"]) for t in self.thresholds)
            lines.append(
                f"{s.face_px:>8} {sum(s.faces.values()):>6} {recalls}   {groups}         {fps}"
            )
        lines.append("best score on person-free frames:")
        for name, score in {**self.negatives, **self.informational}.items():
            note = "" if name in self.negatives else "  (informational)"
            lines.append(f"  {name:<14} {score:.3f}{note}")
        if self.ms_per_tile:
            lines.append(
                f"one CPU thread: {self.ms_per_tile:.0f} ms per tile (median of 5, this machine)"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _faces_per_scene(face_px: int, input_size: tuple[int, int]) -> int:
    per_side = min(input_size) // max(1, int(face_px * 2.2))  # a crop is ~2× its face
    return max(1, min(16, per_side * per_side))


def _scene(
    face_px: int, input_size: tuple[int, int], seed: int
) -> tuple[np.ndarray, list[tuple[float, float, float, float]], list[str]]:
    count = _faces_per_scene(face_px, input_size)
    if count > 1:
        return samples.face_scene(input_size, face_px, count=count, seed=seed)
    # one big face, centred (its crop may leave the tile: what a tile sees of a close face)
    rng = np.random.default_rng(seed)
    crops = samples.face_crops()
    crop = crops[int(rng.integers(len(crops)))]
    canvas = samples.ground(input_size, seed)
    factor = face_px / crop.face_height
    fcx, fcy = (
        (crop.face[0] + crop.face[2]) / 2 * factor,
        (crop.face[1] + crop.face[3]) / 2 * factor,
    )
    top_left = (int(input_size[0] / 2 - fcy), int(input_size[1] / 2 - fcx))
    box = samples.paste_face(canvas, crop, face_px, top_left)
    return canvas, [box], [crop.name]


def measure(
    runner: DetectionRunner,
    to_input: ToInput,
    input_size: tuple[int, int],
    *,
    heights: Sequence[int] = DEFAULT_HEIGHTS,
    scenes_per_height: int = 6,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    ms_per_tile: float = 0.0,
) -> Measurement:
    """Recall by face height at each threshold, and the best score on person-free frames."""
    height, width = input_size
    norm = np.asarray([width, height, width, height], np.float64)
    sizes = []
    for face_px in heights:
        faces = dict.fromkeys(GROUPS, 0)
        found = {g: {f"{t:g}": 0 for t in thresholds} for g in GROUPS}
        false_boxes = {f"{t:g}": 0 for t in thresholds}
        for i in range(scenes_per_height):
            scene, boxes, names = _scene(face_px, input_size, seed=1000 * face_px + i)
            truth = np.clip(np.asarray(boxes, np.float64) / norm, 0, 1)
            groups = np.asarray([group_of(n) for n in names])
            (dets,) = runner(to_input(scene))
            for g in GROUPS:
                faces[g] += int((groups == g).sum())
            for t in thresholds:
                kept = dets[dets[:, 4] >= t]
                overlaps = box_iou(truth, kept) if len(kept) else np.zeros((len(truth), 0))
                hit = np.asarray((overlaps >= MATCH_IOU).any(axis=1), dtype=bool)
                for g in GROUPS:
                    found[g][f"{t:g}"] += int(hit[groups == g].sum())
                false_boxes[f"{t:g}"] += int((overlaps < MATCH_IOU).all(axis=0).sum())
        sizes.append(SizeResult(face_px, faces, found, false_boxes))
    negatives = {}
    for name, frame in _person_free(input_size).items():
        (dets,) = runner(to_input(frame))
        negatives[name] = float(dets[:, 4].max()) if len(dets) else 0.0
    informational = {}
    cat = cv2.resize(samples.data.chelsea(), (width, height), interpolation=cv2.INTER_LINEAR)
    (dets,) = runner(to_input(np.ascontiguousarray(cat)))
    informational["chelsea (cat)"] = float(dets[:, 4].max()) if len(dets) else 0.0
    return Measurement(
        input_size=input_size,
        thresholds=tuple(thresholds),
        sizes=tuple(sizes),
        negatives=negatives,
        informational=informational,
        ms_per_tile=ms_per_tile,
    )


def _person_free(input_size: tuple[int, int]) -> dict[str, np.ndarray]:
    height, width = input_size
    frames = samples.no_face_frames(input_size)
    for name in ("rocket", "coffee"):  # a quarter of the photo, upscaled 2× as tiling does
        rgb = samples.photo_rgb(name) if name == "rocket" else samples.data.coffee()[:, :, :3]
        h, w = rgb.shape[:2]
        quarter = np.ascontiguousarray(rgb[h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2])
        frames[f"{name}-2x"] = cv2.resize(quarter, (width, height), interpolation=cv2.INTER_LINEAR)
    return frames


# --- the candidate we did not choose: MediaPipe BlazeFace full range (192×192, TFLite) ------


BLAZEFACE_FULL_RANGE = WheelMember(
    requirement="mediapipe==0.10.21",
    wheel_filename="mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    wheel_sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
    member="mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
    member_sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
)


def blazeface_runner(tflite_path: Path, nms_iou: float = 0.3) -> DetectionRunner:
    """BlazeFace full range with ai-edge-litert, decoded the MediaPipe way, for comparison.

    One output cell per anchor on a 48×48 grid (stride 4 of 192; anchor centres at (i + 0.5) / 48,
    fixed anchor size): regressors ``(dx, dy, w, h, 6 keypoints)`` in input pixels, logits
    scores; input RGB scaled to [-1, 1] (mediapipe's face_detection_full_range graph).
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite_path), num_threads=1)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    outputs = {o["name"]: o["index"] for o in interpreter.get_output_details()}
    size = int(inp["shape"][1])
    grid = size // 4
    centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
    anchor_y, anchor_x = np.meshgrid(centres, centres, indexing="ij")
    anchors = np.stack([anchor_x.ravel(), anchor_y.ravel()], axis=1)

    def run(x: np.ndarray) -> list[np.ndarray]:
        results = []
        for item in x:  # 1×H×W×3 in [-1, 1]
            interpreter.set_tensor(inp["index"], np.ascontiguousarray(item[None]))
            interpreter.invoke()
            raw = interpreter.get_tensor(outputs["Identity"])[0]
            logits = interpreter.get_tensor(outputs["Identity_1"])[0, :, 0]
            scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
            keep = scores >= 0.05
            cx = anchors[keep, 0] + raw[keep, 0] / size
            cy = anchors[keep, 1] + raw[keep, 1] / size
            w, h = raw[keep, 2] / size, raw[keep, 3] / size
            boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, scores[keep]], axis=1)
            boxes[:, :4] = np.clip(boxes[:, :4], 0, 1)
            results.append(nms(boxes.astype(np.float32), nms_iou))
        return results

    return run


def blazeface_input(size: int) -> ToInput:
    def to_input(rgb: np.ndarray) -> np.ndarray:
        if rgb.shape[:2] != (size, size):
            rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        return (rgb.astype(np.float32) / 127.5 - 1.0)[None]

    return to_input


def ms_per_call(runner: DetectionRunner, x: np.ndarray, repeats: int = 5) -> float:
    """Median wall time of one call (after one warm-up): a rough figure, not a benchmark."""
    import time

    runner(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)
