"""Figures of one round, medians over rounds, and the issue's goals as ratios (pure functions)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

SITEVEIL = "siteveil"
KSERVE_SHIPPED = "kserve_shipped"
KSERVE_TUNED = "kserve_tuned"
TRANSFORMERS = (SITEVEIL, KSERVE_SHIPPED, KSERVE_TUNED)
REFERENCES = (KSERVE_SHIPPED, KSERVE_TUNED)

# The figures of T (BENCH_CONTRACT.md) that are medians over rounds.
MEDIAN_FIGURES = (
    "images_per_s",
    "p50_ms",
    "p99_ms",
    "cpu_ms_per_image",
    "triton_cpu_ms_per_image",
    "s3_cpu_ms_per_image",
    "peak_rss_mb_per_worker",
)


@dataclass(frozen=True, slots=True)
class Goal:
    """One goal of issue 11: siteveil's figure over a reference's, compared with `target`."""

    name: str
    target: float
    op: Literal["<=", ">="]
    description: str

    def met(self, value: float) -> bool:
        return value <= self.target if self.op == "<=" else value >= self.target


GOALS = (
    Goal("cpu_vs_codec_floor", 1.5, "<=", "transformer CPU/img ≤ 1.5 × codec floor"),
    Goal("cpu_vs_kserve_tuned", 0.5, "<=", "transformer CPU/img ≤ 0.5 × tuned KServe"),
    Goal("cpu_vs_kserve_shipped", 0.1, "<=", "transformer CPU/img ≤ 0.1 × as-shipped KServe"),
    Goal("throughput_vs_kserve_tuned", 1.5, ">=", "images/s ≥ 1.5 × tuned KServe"),
    Goal("p99_vs_kserve_tuned", 1.0, "<=", "p99 no worse than tuned KServe"),
)


def percentile_ms(latencies_ms: Sequence[float], q: float) -> float:
    """The q-th percentile (linear interpolation, numpy's default) of the latencies."""
    if not latencies_ms:
        raise ValueError("no latencies: no request succeeded")
    return float(np.percentile(np.asarray(latencies_ms, dtype=float), q))


def round_figures(
    *,
    latencies_ms: Sequence[float],
    wall_s: float,
    cpu_s: Mapping[str, float],
    peak_rss_bytes: int,
    images: int,
    errors: int,
) -> dict[str, Any]:
    """The raw figures of one transformer at one resolution in one round.

    `cpu_s` holds the CPU seconds over the round of the "transformer", "triton" and "s3" process
    trees; per-image figures divide by the images sent (every one is work the server did).
    """
    if images <= 0 or wall_s <= 0:
        raise ValueError("a round needs images > 0 and wall_s > 0")
    ok = len(latencies_ms)
    return {
        "images": images,
        "errors": errors,
        "wall_s": wall_s,
        "images_per_s": ok / wall_s,
        "p50_ms": percentile_ms(latencies_ms, 50) if ok else None,
        "p99_ms": percentile_ms(latencies_ms, 99) if ok else None,
        "cpu_ms_per_image": 1000 * cpu_s["transformer"] / images,
        "triton_cpu_ms_per_image": 1000 * cpu_s["triton"] / images,
        "s3_cpu_ms_per_image": 1000 * cpu_s["s3"] / images,
        "peak_rss_mb_per_worker": peak_rss_bytes / 2**20,
    }


def summarize(rounds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """T of the contract: the median of each figure over rounds, counts summed, rounds kept."""
    if not rounds:
        raise ValueError("no rounds to summarize")
    summary: dict[str, Any] = {}
    for figure in MEDIAN_FIGURES:
        values = [r[figure] for r in rounds if r.get(figure) is not None]
        summary[figure] = statistics.median(values) if values else None
    for count in ("images", "anonymized", "errors"):
        summary[count] = sum(int(r.get(count, 0)) for r in rounds)
    summary["rounds"] = [dict(r) for r in rounds]
    return summary


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def ratios(
    transformers: Mapping[str, Mapping[str, Any]], codec_floor_ms: float | None
) -> dict[str, float | None]:
    """Siteveil's figures over the codec floor's and the references' (None: a side is missing)."""
    ours = transformers.get(SITEVEIL, {})
    tuned = transformers.get(KSERVE_TUNED, {})
    shipped = transformers.get(KSERVE_SHIPPED, {})
    cpu = ours.get("cpu_ms_per_image")
    return {
        "cpu_vs_codec_floor": _ratio(cpu, codec_floor_ms),
        "cpu_vs_kserve_tuned": _ratio(cpu, tuned.get("cpu_ms_per_image")),
        "cpu_vs_kserve_shipped": _ratio(cpu, shipped.get("cpu_ms_per_image")),
        "throughput_vs_kserve_tuned": _ratio(ours.get("images_per_s"), tuned.get("images_per_s")),
        "p99_vs_kserve_tuned": _ratio(ours.get("p99_ms"), tuned.get("p99_ms")),
    }


def goals(ratio_values: Mapping[str, float | None]) -> dict[str, dict[str, Any]]:
    """Each goal with its value, target, operator and whether it was met (None: not measured)."""
    out = {}
    for goal in GOALS:
        value = ratio_values.get(goal.name)
        out[goal.name] = {
            "value": value,
            "target": goal.target,
            "op": goal.op,
            "met": None if value is None else goal.met(value),
        }
    return out
