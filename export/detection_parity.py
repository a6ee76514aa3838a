"""Parity of a detector: do the folded graph's boxes match the original package's own decoding?

Both sides are callables ``batch -> per-image boxes`` (M×5 rows ``x0, y0, x1, y1, score``,
normalised to the input). Boxes scoring at least ``score_threshold`` are compared one to one (the
reference's NMS is applied to the candidate too, since the folded graph leaves NMS to the
transformer); a case passes when both sides find the same boxes, each pair overlapping by at least
``min_iou`` with scores within ``max_score_error``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from export.errors import MissingFile, ParityFailed

DetectionRunner = Callable[[np.ndarray], list[np.ndarray]]


@dataclass(frozen=True)
class DetectionThresholds:
    min_iou: float = 0.95
    max_score_error: float = 1e-3
    score_threshold: float = 0.1  # boxes scoring at least this are compared
    nms_iou: float = 0.3  # the reference's NMS overlap, applied to the candidate (0: none)


DEFAULT_DETECTION_THRESHOLDS = DetectionThresholds()


@dataclass(frozen=True)
class DetectionCase:
    name: str
    reference_boxes: int
    candidate_boxes: int
    min_iou: float  # over matched pairs (1.0 when neither side finds anything)
    max_score_error: float
    passed: bool


@dataclass(frozen=True)
class DetectionParityReport:
    cases: tuple[DetectionCase, ...]
    thresholds: DetectionThresholds

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    @property
    def min_iou(self) -> float:
        return min(c.min_iou for c in self.cases)

    @property
    def max_score_error(self) -> float:
        return max(c.max_score_error for c in self.cases)

    @property
    def boxes_compared(self) -> int:
        return sum(c.reference_boxes for c in self.cases)

    def table(self) -> str:
        t = self.thresholds
        lines = [f"{'input':<22} {'ref':>4} {'ours':>5} {'min_iou':>8} {'score_err':>10}  result"]
        for c in self.cases:
            lines.append(
                f"{c.name:<22} {c.reference_boxes:>4} {c.candidate_boxes:>5} {c.min_iou:>8.5f} "
                f"{c.max_score_error:>10.2e}  {'ok' if c.passed else 'FAIL'}"
            )
        lines.append(
            f"thresholds: boxes scoring >= {t.score_threshold:g}, IoU >= {t.min_iou:g}, "
            f"|score error| <= {t.max_score_error:g}, NMS {t.nms_iou:g} "
            f"-> {'PASSED' if self.passed else 'FAILED'}"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "min_iou": self.min_iou,
            "max_score_error": self.max_score_error,
            "boxes_compared": self.boxes_compared,
            "thresholds": asdict(self.thresholds),
            "cases": [asdict(c) for c in self.cases],
        }

    def raise_on_failure(self) -> None:
        if not self.passed:
            raise ParityFailed("detection parity failed:\n" + self.table())


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of two box arrays (rows start with x0, y0, x1, y1)."""
    a, b = np.asarray(a, np.float64)[:, :4], np.asarray(b, np.float64)[:, :4]
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS by score (the rows kept, best first); ``iou <= 0`` keeps everything."""
    order = np.argsort(-boxes[:, 4], kind="stable")
    boxes = boxes[order]
    if iou <= 0 or len(boxes) < 2:
        return boxes
    overlaps = box_iou(boxes, boxes)
    suppressed = np.zeros(len(boxes), bool)
    for i in range(len(boxes)):
        if not suppressed[i]:
            suppressed[i + 1 :] |= overlaps[i, i + 1 :] >= iou
    return boxes[~suppressed]


def compare_boxes(
    name: str, reference: np.ndarray, candidate: np.ndarray, thresholds: DetectionThresholds
) -> DetectionCase:
    t = thresholds
    ref = reference[reference[:, 4] >= t.score_threshold]
    cand = nms(candidate[candidate[:, 4] >= t.score_threshold], t.nms_iou)
    overlaps = box_iou(ref, cand) if len(ref) and len(cand) else np.zeros((len(ref), len(cand)))
    used: set[int] = set()
    ious, errors, unmatched = [], [], 0
    for i in np.argsort(-ref[:, 4], kind="stable"):
        choices = [j for j in np.argsort(-overlaps[i]) if j not in used] if len(cand) else []
        if not choices or overlaps[i, choices[0]] <= 0:
            unmatched += ref[i, 4] >= t.score_threshold + t.max_score_error  # not a borderline box
            continue
        j = int(choices[0])
        used.add(j)
        ious.append(float(overlaps[i, j]))
        errors.append(float(abs(ref[i, 4] - cand[j, 4])))
    extra = sum(
        1
        for j in range(len(cand))
        if j not in used and cand[j, 4] >= t.score_threshold + t.max_score_error
    )
    min_iou = min(ious) if ious else (1.0 if not unmatched and not extra else 0.0)
    max_err = max(errors) if errors else 0.0
    passed = unmatched == 0 and extra == 0 and min_iou >= t.min_iou and max_err <= t.max_score_error
    return DetectionCase(name, len(ref), len(cand), min_iou, max_err, bool(passed))


def compare_detections(
    reference: DetectionRunner,
    candidate: DetectionRunner,
    inputs: Mapping[str, np.ndarray],
    thresholds: DetectionThresholds = DEFAULT_DETECTION_THRESHOLDS,
) -> DetectionParityReport:
    """Run both sides on every input (a batch gives one case per image) and compare."""
    cases = []
    for name, batch in inputs.items():
        refs, cands = reference(batch), candidate(batch)
        if len(refs) != len(batch) or len(cands) != len(batch):
            raise ParityFailed(f"{name}: a runner returned the wrong number of images")
        for i, (ref, cand) in enumerate(zip(refs, cands)):
            label = name if len(batch) == 1 else f"{name}[{i}]"
            cases.append(compare_boxes(label, ref, cand, thresholds))
    return DetectionParityReport(cases=tuple(cases), thresholds=thresholds)


def folded_runner(model: Path | bytes, *, threads: int = 1) -> DetectionRunner:
    """ONNX Runtime on a graph with a ``detections`` [N, K, 5] output: the non-zero rows."""
    if isinstance(model, Path) and not model.is_file():
        raise MissingFile(f"ONNX model not found: {model}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model
    session = ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> list[np.ndarray]:
        (dets,) = session.run(["detections"], {input_name: x})
        return [d[d[:, 4] > 0] for d in np.asarray(dets)]

    return run
