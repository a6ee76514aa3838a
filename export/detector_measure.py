"""What a detector finds: recall by object height on synthetic frames, false positives on
person-free frames, and CPU time per inference — the figures behind a detector's
``siteveil.score_threshold`` / ``min_object_px`` / ``max_object_px`` (export/README.md).

Frames are model-input sized (e.g. 512×512): a person crop from a scikit-image photo
(``astronaut()``, ``camera()``) is resized to a given height and pasted onto a texture
(``grass()``, ``gravel()``, ``brick()``, ``moon()``) at seeded positions; a person counts as found
when a box scoring at least the threshold overlaps the pasted box with IoU >= ``min_iou``.
Person-free frames are photos and textures without people plus seeded noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from skimage import data as skdata

Runner = Callable[[np.ndarray], np.ndarray]  # N×H×W×3 model input -> N×K×5 detections

# Person crops (x0, y0, x1, y1) in the scikit-image photos: upper bodies, head to frame bottom.
PEOPLE: dict[str, tuple[Callable[[], np.ndarray], tuple[int, int, int, int]]] = {
    "astronaut": (skdata.astronaut, (20, 10, 365, 512)),
    "camera": (skdata.camera, (0, 60, 335, 512)),
}
BACKGROUNDS: dict[str, Callable[[], np.ndarray]] = {
    "grass": skdata.grass,
    "gravel": skdata.gravel,
    "brick": skdata.brick,
    "moon": skdata.moon,
}
NEGATIVES: dict[str, Callable[[], np.ndarray]] = {
    "rocket": skdata.rocket,
    "coffee": skdata.coffee,
    "chelsea": skdata.chelsea,  # a cat
    "colorwheel": skdata.colorwheel,
    "coins": skdata.coins,
    "clock": skdata.clock,
    **BACKGROUNDS,
}
DEFAULT_HEIGHTS = (24, 32, 40, 48, 56, 64, 80, 96, 128, 192, 256, 384, 512)


def rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def fit(img: np.ndarray, size: int) -> np.ndarray:
    return cv2.resize(rgb(img), (size, size), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # size×size×3 uint8
    box: tuple[float, float, float, float]  # pasted person, normalised x0, y0, x1, y1
    person: str
    background: str
    height: int


def pasted_frames(
    size: int, heights: Sequence[int], positions: int = 4, seed: int = 0
) -> list[Frame]:
    frames = []
    for height in heights:
        rng = np.random.default_rng([seed, height])  # the same frames whatever else is measured
        for person, (load, (x0, y0, x1, y1)) in PEOPLE.items():
            crop = rgb(load())[y0:y1, x0:x1]
            width = max(1, round(crop.shape[1] * height / crop.shape[0]))
            scaled = cv2.resize(
                crop, (min(width, size), min(height, size)), interpolation=cv2.INTER_AREA
            )
            h, w = scaled.shape[:2]
            for background, load_bg in BACKGROUNDS.items():
                for _ in range(positions):
                    top = int(rng.integers(0, size - h + 1))
                    left = int(rng.integers(0, size - w + 1))
                    img = fit(load_bg(), size).copy()
                    img[top : top + h, left : left + w] = scaled
                    box = (left / size, top / size, (left + w) / size, (top + h) / size)
                    frames.append(Frame(img, box, person, background, height))
    return frames


def negative_frames(size: int, noise: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    frames = {name: fit(load(), size) for name, load in NEGATIVES.items()}
    rng = np.random.default_rng(seed)
    for i in range(noise):
        frames[f"noise-{i}"] = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        coarse = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
        frames[f"blobs-{i}"] = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return frames


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def best_match(detections: np.ndarray, box: Sequence[float]) -> tuple[float, float]:
    """(score, IoU) of the best-scoring detection overlapping ``box`` the most."""
    best = (0.0, 0.0)
    for row in detections:
        if row[4] <= 0:
            continue
        overlap = box_iou(row[:4], box)
        if overlap > best[1]:
            best = (float(row[4]), overlap)
    return best


def run_batched(
    runner: Runner,
    images: Sequence[np.ndarray],
    to_input: Callable[[np.ndarray], np.ndarray],
    batch: int = 8,
) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for i in range(0, len(images), batch):
        x = np.concatenate([to_input(img) for img in images[i : i + batch]])
        out.extend(list(runner(x)))
    return out


@dataclass(frozen=True)
class HeightRow:
    height: int
    frames: int
    found: int

    @property
    def recall(self) -> float:
        return self.found / self.frames if self.frames else 0.0


@dataclass(frozen=True)
class Measurement:
    score_threshold: float
    min_iou: float
    max_negative_score: float
    negative_scores: Mapping[str, float]
    rows: tuple[HeightRow, ...]
    min_object_px: int | None
    max_object_px: int | None
    cpu_ms_per_image: float | None

    def table(self) -> str:
        lines = [f"{'height_px':>9} {'found':>9} {'recall':>7}"]
        for r in self.rows:
            lines.append(f"{r.height:>9} {r.found:>4}/{r.frames:<4} {r.recall:>7.2f}")
        worst = max(self.negative_scores, key=lambda k: self.negative_scores[k])
        lines.append(
            f"person-free frames: highest score {self.max_negative_score:.3f} ({worst}); "
            f"score_threshold {self.score_threshold:g}, match IoU >= {self.min_iou:g}"
        )
        lines.append(
            f"min_object_px {self.min_object_px}, max_object_px {self.max_object_px}, "
            f"CPU {self.cpu_ms_per_image if self.cpu_ms_per_image is None else round(self.cpu_ms_per_image, 1)} ms "
            "per image (ONNX Runtime, 1 thread, batch 1)"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rows"] = [{**asdict(r), "recall": r.recall} for r in self.rows]
        return d


def choose_threshold(max_negative: float, floor: float = 0.2, margin: float = 0.05) -> float:
    """The smallest multiple of 0.05 at least ``margin`` above every person-free score."""
    return max(floor, float(np.ceil((max_negative + margin) / 0.05 - 1e-9) * 0.05))


def reliable_range(rows: Sequence[HeightRow], min_recall: float) -> tuple[int | None, int | None]:
    """The longest run of heights, ending at the largest reliable one, all at ``min_recall``."""
    ok = [r.recall >= min_recall for r in rows]
    if not any(ok):
        return None, None
    top = max(i for i, good in enumerate(ok) if good)
    low = top
    while low > 0 and ok[low - 1]:
        low -= 1
    return rows[low].height, rows[top].height


def cpu_ms(onnx_path: Path | bytes, size: int, repeats: int = 10) -> float:
    """Median wall time of one size×size inference, ONNX Runtime CPU, 1 intra-op thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    source = str(onnx_path) if isinstance(onnx_path, Path) else onnx_path
    session = ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32) * 255
    session.run(None, {name: x})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, {name: x})
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def measure(
    runner: Runner,
    to_input: Callable[[np.ndarray], np.ndarray],
    size: int,
    *,
    heights: Sequence[int] = DEFAULT_HEIGHTS,
    positions: int = 4,
    min_iou: float = 0.5,
    min_recall: float = 0.95,
    score_threshold: float | None = None,
    onnx_for_timing: Path | bytes | None = None,
) -> Measurement:
    """Recall by pasted person height at the threshold that keeps person-free frames clean."""
    negatives = negative_frames(size)
    neg_out = run_batched(runner, list(negatives.values()), to_input)
    neg_scores = {
        name: float(det[:, 4].max(initial=0.0))
        for name, det in zip(negatives, neg_out, strict=True)
    }
    max_negative = max(neg_scores.values())
    threshold = score_threshold if score_threshold is not None else choose_threshold(max_negative)
    frames = pasted_frames(size, heights, positions)
    outputs = run_batched(runner, [f.image for f in frames], to_input)
    found: dict[int, list[bool]] = {h: [] for h in heights}
    for frame, det in zip(frames, outputs, strict=True):
        score, overlap = best_match(det[det[:, 4] >= threshold], frame.box)
        found[frame.height].append(bool(score >= threshold and overlap >= min_iou))
    rows = tuple(HeightRow(h, len(v), sum(v)) for h, v in found.items())
    low, high = reliable_range(rows, min_recall)
    timing = cpu_ms(onnx_for_timing, size) if onnx_for_timing is not None else None
    return Measurement(threshold, min_iou, max_negative, neg_scores, rows, low, high, timing)
