"""Parity: does the exported model say what its source says?

Both sides are plain callables ``batch -> output``; the report gives, per input, the max absolute
error and the IoU of the person masks, and passes only when every case is within thresholds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from export.errors import MissingFile, NotSegmentationOutput, ParityFailed

Runner = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ParityThresholds:
    max_abs_error: float = 1e-3
    min_iou: float = 0.99
    mask_threshold: float = 0.5  # probability (or logit after sigmoid) that counts as person


DEFAULT_THRESHOLDS = ParityThresholds()


@dataclass(frozen=True)
class OutputSpec:
    """How to read a person mask from the model output (``siteveil.output_kind``)."""

    kind: str = "probability"  # probability | logits | labels
    person_classes: tuple[int, ...] = (0,)
    channel_axis: int = -1  # probability outputs: where the size-1 channel axis is


@dataclass(frozen=True)
class CaseResult:
    name: str
    max_abs_error: float
    iou: float
    person_fraction: float  # of the reference mask
    passed: bool


@dataclass(frozen=True)
class ParityReport:
    cases: tuple[CaseResult, ...]
    thresholds: ParityThresholds

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    @property
    def max_abs_error(self) -> float:
        return max(c.max_abs_error for c in self.cases)

    @property
    def min_iou(self) -> float:
        return min(c.iou for c in self.cases)

    def table(self) -> str:
        t = self.thresholds
        lines = [
            f"{'input':<14} {'max_abs_err':>12} {'mask_iou':>9} {'person%':>8}  result",
        ]
        for c in self.cases:
            lines.append(
                f"{c.name:<14} {c.max_abs_error:>12.3e} {c.iou:>9.5f} "
                f"{100 * c.person_fraction:>7.2f}%  {'ok' if c.passed else 'FAIL'}"
            )
        lines.append(
            f"thresholds: max_abs_error <= {t.max_abs_error:g}, mask IoU >= {t.min_iou:g} "
            f"-> {'PASSED' if self.passed else 'FAILED'}"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "max_abs_error": self.max_abs_error,
            "min_iou": self.min_iou,
            "thresholds": asdict(self.thresholds),
            "cases": [asdict(c) for c in self.cases],
        }

    def raise_on_failure(self) -> None:
        if not self.passed:
            raise ParityFailed("parity check failed:\n" + self.table())


def person_mask(output: np.ndarray, spec: OutputSpec, threshold: float) -> np.ndarray:
    """N×H×W boolean person mask from a model output of the given kind."""
    if spec.kind == "probability":
        if output.ndim != 4 or output.shape[spec.channel_axis] != 1:
            raise NotSegmentationOutput(
                f"probability output must be N×1×H×W or N×H×W×1, got {output.shape}"
            )
        return np.squeeze(output, axis=spec.channel_axis) > threshold
    if spec.kind == "logits":
        if output.ndim != 4:
            raise NotSegmentationOutput(f"logits output must be N×C×H×W, got {output.shape}")
        return np.isin(output.argmax(axis=1), spec.person_classes)
    if spec.kind == "labels":
        if output.ndim != 3:
            raise NotSegmentationOutput(f"labels output must be N×H×W, got {output.shape}")
        return np.isin(output, spec.person_classes)
    raise NotSegmentationOutput(f"unknown output kind {spec.kind!r}")


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union; two empty masks agree perfectly."""
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum() / union)


def compare_case(
    name: str,
    reference: np.ndarray,
    candidate: np.ndarray,
    spec: OutputSpec,
    thresholds: ParityThresholds,
) -> CaseResult:
    if reference.shape != candidate.shape:
        raise ParityFailed(f"{name}: output shapes differ: {reference.shape} vs {candidate.shape}")
    err = float(np.max(np.abs(reference.astype(np.float64) - candidate.astype(np.float64))))
    ref_mask = person_mask(reference, spec, thresholds.mask_threshold)
    cand_mask = person_mask(candidate, spec, thresholds.mask_threshold)
    score = iou(ref_mask, cand_mask)
    abs_ok = spec.kind == "labels" or err <= thresholds.max_abs_error
    return CaseResult(
        name=name,
        max_abs_error=err,
        iou=score,
        person_fraction=float(ref_mask.mean()),
        passed=bool(abs_ok and score >= thresholds.min_iou and np.isfinite(err)),
    )


def compare(
    reference: Runner,
    candidate: Runner,
    inputs: Mapping[str, np.ndarray],
    spec: OutputSpec,
    thresholds: ParityThresholds = DEFAULT_THRESHOLDS,
) -> ParityReport:
    """Run both sides on every input and compare."""
    cases = tuple(
        compare_case(name, reference(x), candidate(x), spec, thresholds)
        for name, x in inputs.items()
    )
    return ParityReport(cases=cases, thresholds=thresholds)


def onnx_runner(model: Path | bytes, *, output_name: str | None = None, threads: int = 0) -> Runner:
    """ONNX Runtime on CPU: a single-input model's first (or named) output."""
    if isinstance(model, Path) and not model.is_file():
        raise MissingFile(f"ONNX model not found: {model}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model
    session = ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    outputs = [output_name] if output_name else [session.get_outputs()[0].name]

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(outputs, {input_name: x})[0])

    return run


def tflite_runner(model: Path) -> Runner:
    """The original TFLite model with ai-edge-litert (XNNPACK), one image at a time."""
    from ai_edge_litert.interpreter import Interpreter

    if not model.is_file():
        raise MissingFile(f"TFLite model not found: {model}")
    interpreter = Interpreter(model_path=str(model), num_threads=1)
    interpreter.allocate_tensors()
    in_index = interpreter.get_input_details()[0]["index"]
    out_index = interpreter.get_output_details()[0]["index"]

    def run(x: np.ndarray) -> np.ndarray:
        results = []
        for item in x:
            interpreter.set_tensor(in_index, np.ascontiguousarray(item[None]))
            interpreter.invoke()
            results.append(interpreter.get_tensor(out_index).copy())
        return np.concatenate(results)

    return run


def batched(inputs: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Stack single-image inputs into one batch (exercises the dynamic batch axis)."""
    return np.concatenate([inputs[n] for n in names])
