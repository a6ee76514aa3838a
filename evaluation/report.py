"""The evaluation's report: figures per height bin and resolution, goals, CPU; as JSON, table, plot."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.metrics import UNRECOGNISABLE_AT
from evaluation.runner import ModelSetRun, PersonScore
from evaluation.scenes import HEIGHT_BINS, bin_label

SCHEMA_VERSION = 1
# What the product must reach (issue 10): faces unrecognisable for this share of the people in
# each height range, at every resolution; person-free frames masked at most this much. Goals and
# `bins` count photographed people; the generator's drawn workers, which no COCO-trained detector
# here takes for a person, are reported apart (`drawn_bins`) so that their misses stay in view.
FACE_GOALS: tuple[tuple[str, int, int, float], ...] = (
    ("faces unrecognisable, people >= 64 px", 64, 10_000, 0.99),
    ("faces unrecognisable, people 40-63 px", 40, 63, 0.90),
)
PERSON_FREE_MAX_MASKED = 0.02


def _share(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def bin_rows(people: Sequence[PersonScore], resolutions: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for resolution in resolutions:
        for bounds in HEIGHT_BINS:
            label = bin_label(bounds)
            group = [p for p in people if p.resolution == resolution and p.height_bin == label]
            rows.append(
                {
                    "resolution": resolution,
                    "height_bin": label,
                    "height_min": bounds[0],
                    "height_max": bounds[1],
                    "people": len(group),
                    "faces_unrecognisable": sum(p.face_unrecognisable for p in group),
                    "face_unrecognisable_share": _share([p.face_unrecognisable for p in group]),
                    # The stricter reading: plain Laplacian correlation <= the threshold.
                    "face_correlation_at_most_threshold_share": _share(
                        [
                            p.face_correlation is not None
                            and p.face_correlation <= UNRECOGNISABLE_AT
                            for p in group
                        ]
                    ),
                    "mean_body_coverage": _mean([p.body_coverage for p in group]),
                }
            )
    return rows


def goal_rows(run: ModelSetRun, resolutions: Sequence[str]) -> list[dict[str, Any]]:
    """Each goal with the measured value; `passed` is None where nothing was there to measure."""
    goals = []
    for resolution in resolutions:
        for name, lo, hi, need in FACE_GOALS:
            group = [
                p.face_unrecognisable
                for p in run.people
                if p.resolution == resolution and lo <= p.height <= hi and not p.drawn
            ]
            value = _share(group)
            goals.append(
                {
                    "goal": name,
                    "resolution": resolution,
                    "people": len(group),
                    "required": need,
                    "value": value,
                    "passed": None if value is None else value >= need,
                }
            )
    shares = [f.masked_share if f.masked_share is not None else 1.0 for f in run.person_free]
    value = _mean(shares)
    goals.append(
        {
            "goal": "masked share of person-free frames",
            "resolution": "all",
            "frames": len(shares),
            "required_at_most": PERSON_FREE_MAX_MASKED,
            "value": value,
            "passed": None if value is None else value <= PERSON_FREE_MAX_MASKED,
        }
    )
    return goals


def cpu_block(run: ModelSetRun) -> dict[str, Any]:
    """CPU seconds per image of each process tree: as measured, and less the idle rate."""
    images = max(run.images, 1)
    raw = {k: v / images for k, v in run.cpu_seconds.items()}
    busy = {
        k: max(0.0, v - run.idle_cpu_seconds_per_s.get(k, 0.0) * run.wall_s) / images
        for k, v in run.cpu_seconds.items()
    }
    return {
        "images": run.images,
        "wall_s": run.wall_s,
        "cpu_s_per_image": raw,
        "idle_cpu_s_per_s": run.idle_cpu_seconds_per_s,
        "cpu_s_per_image_less_idle": busy,
    }


def added_cpu(model_sets: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The extra CPU per image of each model added, between consecutive sets where one adds to
    the other (e.g. {segmenter} → {segmenter, person} → {segmenter, person, face})."""
    steps = []
    for previous, current in zip(model_sets, model_sets[1:], strict=False):
        before, after = set(previous["models"]), set(current["models"])
        if not before < after:
            continue
        old = previous["cpu"]["cpu_s_per_image_less_idle"]
        new = current["cpu"]["cpu_s_per_image_less_idle"]
        steps.append(
            {
                "from": previous["models"],
                "added": sorted(after - before),
                "extra_cpu_s_per_image": {k: new[k] - old.get(k, 0.0) for k in new},
            }
        )
    return steps


def build(runs: Sequence[ModelSetRun], settings: dict[str, Any]) -> dict[str, Any]:
    resolutions = list(settings["resolutions"])
    model_sets = []
    for run in runs:
        goals = goal_rows(run, resolutions)
        empty = [f.masked_share for f in run.person_free if f.masked_share is not None]
        busy = [f.masked_share for f in run.with_people if f.masked_share is not None]
        model_sets.append(
            {
                "models": list(run.models),
                "served_models": run.served_models,
                "passed": all(g["passed"] is True for g in goals),
                "goals": goals,
                "bins": bin_rows([p for p in run.people if not p.drawn], resolutions),
                "drawn_bins": bin_rows([p for p in run.people if p.drawn], resolutions),
                "person_free": {
                    "frames": len(run.person_free),
                    "mean_masked_share": _mean(empty),
                    "max_masked_share": max(empty) if empty else None,
                },
                # Context for the people's figures: a mask over most of a frame hides its people
                # too, by accident; compare with the people's own share of the frames' pixels.
                "frames_with_people": {
                    "frames": len(run.with_people),
                    "mean_masked_share": _mean(busy),
                    "mean_people_share": _mean([f.people_share for f in run.with_people]),
                },
                "failures": run.failures,
                "cpu": cpu_block(run),
                "people": [dataclasses.asdict(p) for p in run.people],
                "frames": [dataclasses.asdict(f) for f in run.frames],
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "settings": {**settings, "unrecognisable_at": UNRECOGNISABLE_AT},
        "passed": bool(model_sets) and all(m["passed"] for m in model_sets),
        "model_sets": model_sets,
        "cpu_added_per_model": added_cpu(model_sets),
    }


# The report's JSON schema (tests validate written reports against it).
_SHARE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema_version", "settings", "passed", "model_sets", "cpu_added_per_model"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "passed": {"type": "boolean"},
        "settings": {
            "type": "object",
            # generated scenes add seed, frames_per_resolution, ...; annotated ones `scenes`
            "required": ["resolutions", "model_sets"],
        },
        "model_sets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "models",
                    "passed",
                    "goals",
                    "bins",
                    "person_free",
                    "frames_with_people",
                    "cpu",
                    "people",
                ],
                "properties": {
                    "models": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "passed": {"type": "boolean"},
                    "goals": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["goal", "resolution", "value", "passed"],
                            "properties": {"passed": {"type": ["boolean", "null"]}},
                        },
                    },
                    "bins": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": [
                                "resolution",
                                "height_bin",
                                "people",
                                "face_unrecognisable_share",
                                "mean_body_coverage",
                            ],
                            "properties": {
                                "people": {"type": "integer", "minimum": 0},
                                "face_unrecognisable_share": _SHARE,
                                "mean_body_coverage": _SHARE,
                            },
                        },
                    },
                    "person_free": {
                        "type": "object",
                        "required": ["frames", "mean_masked_share", "max_masked_share"],
                        "properties": {
                            "mean_masked_share": _SHARE,
                            "max_masked_share": _SHARE,
                        },
                    },
                    "cpu": {
                        "type": "object",
                        "required": ["images", "cpu_s_per_image", "cpu_s_per_image_less_idle"],
                        "properties": {
                            "cpu_s_per_image": {
                                "type": "object",
                                "required": ["transformer", "triton"],
                                "additionalProperties": {"type": "number", "minimum": 0},
                            }
                        },
                    },
                    "drawn_bins": {"type": "array"},
                    "people": {"type": "array"},
                },
            },
        },
        "cpu_added_per_model": {"type": "array"},
    },
}


def _pct(value: float | None) -> str:
    return "   -  " if value is None else f"{100 * value:5.1f}%"


def _bin_line(row: dict[str, Any]) -> str:
    return (
        f"  {row['resolution']:<10} {row['height_bin']:<10} {row['people']:>6}  "
        f"{_pct(row['face_unrecognisable_share']):>11}  "
        f"{_pct(row['mean_body_coverage']):>12}"
    )


def table(report: dict[str, Any]) -> str:
    """The report as text for the terminal."""
    lines = []
    for ms in report["model_sets"]:
        lines.append(f"models: {' + '.join(ms['models'])}")
        lines.append(f"  {'resolution':<10} {'height px':<10} {'people':>6}  {'face hidden':>11}  "
                     f"{'body covered':>12}")  # fmt: skip
        lines.extend(_bin_line(row) for row in ms["bins"])
        drawn = [r for r in ms.get("drawn_bins", []) if r["people"]]
        if drawn:
            lines.append("  drawn workers (a stress case, not counted in the goals):")
        lines.extend(_bin_line(row) for row in drawn)
        free = ms["person_free"]
        lines.append(
            f"  person-free frames: {free['frames']}, masked share mean "
            f"{_pct(free['mean_masked_share']).strip()}, max {_pct(free['max_masked_share']).strip()}"
        )
        busy = ms["frames_with_people"]
        lines.append(
            f"  frames with people: {busy['frames']}, masked share mean "
            f"{_pct(busy['mean_masked_share']).strip()} (people are "
            f"{_pct(busy['mean_people_share']).strip()} of the pixels)"
        )
        cpu = ms["cpu"]["cpu_s_per_image_less_idle"]
        lines.append(
            "  CPU per image (less idle): "
            + ", ".join(f"{k} {v:.3f} s" for k, v in sorted(cpu.items()))
        )
        if ms["failures"]:
            lines.append(f"  frames without a result: {len(ms['failures'])}")
        for goal in ms["goals"]:
            verdict = {True: "PASS", False: "FAIL", None: "n/a "}[goal["passed"]]
            need = goal.get("required", goal.get("required_at_most"))
            sign = ">=" if "required" in goal else "<="
            lines.append(
                f"  {verdict} {goal['goal']} ({goal['resolution']}): "
                f"{_pct(goal['value']).strip()} (need {sign} {100 * need:g}%)"
            )
        lines.append("")
    for step in report["cpu_added_per_model"]:
        extra = ", ".join(
            f"{k} {v:+.3f} s" for k, v in sorted(step["extra_cpu_s_per_image"].items())
        )
        lines.append(f"adding {' + '.join(step['added'])}: CPU per image {extra}")
    lines.append(f"overall: {'PASS' if report['passed'] else 'FAIL'}")
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    """Recall (faces made unrecognisable) and body coverage against person height, one line per
    resolution and model set. Needs matplotlib (the `eval` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), sharex=True)
    for ms in report["model_sets"]:
        label_models = "+".join(ms["models"])
        for resolution, (key, style, kind) in itertools.product(
            report["settings"]["resolutions"],
            (("bins", "o-", ""), ("drawn_bins", "x--", ", drawn workers")),
        ):
            rows = [
                r
                for r in ms.get(key, [])
                if r["resolution"] == resolution and r["face_unrecognisable_share"] is not None
            ]
            if not rows:
                continue
            xs = [math.sqrt(r["height_min"] * r["height_max"]) for r in rows]
            label = f"{resolution}, {label_models}{kind}"
            left.plot(xs, [r["face_unrecognisable_share"] for r in rows], style, label=label)
            right.plot(xs, [r["mean_body_coverage"] for r in rows], style, label=label)
    for name, lo, _hi, need in FACE_GOALS:
        left.axhline(need, color="grey", linestyle=":", linewidth=1)
        left.text(lo, need, f" goal {100 * need:g}%", fontsize=7, va="bottom", color="grey")
    for axis, title in (
        (left, "faces unrecognisable (share of people)"),
        (right, "body covered by the mask (mean share)"),
    ):
        axis.set_xscale("log")
        axis.set_xticks(
            [math.sqrt(lo * hi) for lo, hi in HEIGHT_BINS], [bin_label(b) for b in HEIGHT_BINS]
        )
        axis.minorticks_off()
        axis.set_xlabel("person height in the frame (px)")
        axis.set_ylim(-0.02, 1.02)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
