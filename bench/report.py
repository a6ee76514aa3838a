"""bench-output/report.json (schema `siteveil.bench/1`, BENCH_CONTRACT.md), its table and plot."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import stats

SCHEMA = "siteveil.bench/1"
LABELS = {
    stats.SITEVEIL: "siteveil transformer",
    stats.KSERVE_SHIPPED: "KServe SDK, as shipped",
    stats.KSERVE_TUNED: "KServe SDK, tuned",
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count() or 1,
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def resolution_block(
    width: int,
    height: int,
    codec_floor_ms: float,
    rounds: Mapping[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """RES of the contract from each transformer's rounds at this resolution."""
    transformers = {name: stats.summarize(r) for name, r in rounds.items() if r}
    ratio_values = stats.ratios(transformers, codec_floor_ms)
    return {
        "width": width,
        "height": height,
        "codec_floor_ms": codec_floor_ms,
        "transformers": transformers,
        "ratios": ratio_values,
        "goals": stats.goals(ratio_values),
    }


def build(
    *,
    settings: Mapping[str, Any],
    sizes: Mapping[str, tuple[int, int]],
    floors: Mapping[str, float],
    rounds: Mapping[str, Mapping[str, list[dict[str, Any]]]],
    not_run: Mapping[str, str],
    elapsed_s: float | None = None,
) -> dict[str, Any]:
    """The report: `rounds` is transformer → resolution → the rounds' raw figures."""
    resolutions = {}
    for res, (width, height) in sizes.items():
        per_transformer = {name: by_res.get(res, []) for name, by_res in rounds.items()}
        resolutions[res] = resolution_block(width, height, floors[res], per_transformer)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": dict(settings),
        "resolutions": resolutions,
        "not_run": dict(not_run),
    }
    if elapsed_s is not None:
        report["elapsed_s"] = round(elapsed_s, 1)
    return report


def problems(report: Mapping[str, Any]) -> list[str]:
    """Why the bench failed: references that did not run, images not anonymized (empty: passed).

    Timings never fail it (no timing assertions): only the results check and the references."""
    found = [f"{name} did not run: {reason}" for name, reason in report["not_run"].items()]
    for res, block in report["resolutions"].items():
        for name, t in block["transformers"].items():
            if t["anonymized"] != t["images"]:
                found.append(
                    f"{name} {res}: {t['images'] - t['anonymized']} image(s) not anonymized"
                )
    return found


def short_reason(reason: str, limit: int = 240) -> str:
    """One line for a table cell: the first line and, for a traceback, its last (the error)."""
    lines = [line.strip() for line in reason.splitlines() if line.strip()]
    if not lines:
        return "no reason given"
    text = lines[0] if len(lines) == 1 else f"{lines[0]} … {lines[-1]}"
    text = text.replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unsteady(block: Mapping[str, Any]) -> list[str]:
    """Notes on transformers whose process tree changed while measured (workers started or
    restarted) or that never went idle before: their CPU includes start-up work."""
    notes = []
    for name, t in block["transformers"].items():
        started = sum(r.get("processes_started", 0) for r in t["rounds"])
        restless = sum(1 for r in t["rounds"] if r.get("settled") is False)
        if started or restless:
            notes.append(
                f"- note: {LABELS.get(name, name)}: {started} process(es) started during the"
                f" measured batches, {restless} round(s) not idle before them — its CPU includes"
                f" worker start-up (restarts?); see logs/{name}.log"
            )
    return ["", *notes] if notes else []


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(report: Mapping[str, Any]) -> str:
    """Per resolution: the transformers' figures, then the goals (ratio, target, met)."""
    s = report["settings"]
    m = report["machine"]
    lines = [
        f"Bench {report['created']}: {m['cpus']} × {m['cpu_model']}, Python {m['python']};"
        f" {s['clients']} clients, {s['workers']} workers, {s['rounds']} rounds (medians),"
        f" {s['mode']}, models {', '.join(s['models'])}, KServe {s['kserve_version']}.",
        "",
    ]
    for res, block in report["resolutions"].items():
        n = s["images"].get(res, 0)
        lines += [
            f"### {res} ({block['width']}×{block['height']}, {n} distinct frames per round)",
            "",
            "| transformer | images/s | p50 ms | p99 ms | CPU ms/img | Triton CPU ms/img "
            "| S3 CPU ms/img | peak RSS MB/worker | anonymized | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in stats.TRANSFORMERS:
            t = block["transformers"].get(name)
            if t is None:
                reason = short_reason(report["not_run"].get(name, "not selected (--only)"))
                lines.append(f"| {LABELS[name]} | not run: {reason} |||||||||")
                continue
            lines.append(
                f"| {LABELS[name]} | {_num(t['images_per_s'], 2)} | {_num(t['p50_ms'], 0)}"
                f" | {_num(t['p99_ms'], 0)} | {_num(t['cpu_ms_per_image'])}"
                f" | {_num(t['triton_cpu_ms_per_image'])} | {_num(t['s3_cpu_ms_per_image'])}"
                f" | {_num(t['peak_rss_mb_per_worker'], 0)} | {t['anonymized']}/{t['images']}"
                f" | {t['errors']} |"
            )
        lines.append(
            f"| JPEG codec floor (decode + encode q90, one core) | | | | "
            f"{_num(block['codec_floor_ms'])} | | | | | |"
        )
        lines += unsteady(block)
        lines += ["", "| goal (siteveil) | ratio | target | met |", "|---|---:|---:|---|"]
        for goal in stats.GOALS:
            g = block["goals"][goal.name]
            met = "–" if g["met"] is None else ("met" if g["met"] else "**missed**")
            lines.append(
                f"| {goal.description} | {_num(g['value'], 2)} | {g['op']} {g['target']:g} | {met} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot(report: Mapping[str, Any], path: Path) -> None:
    """Two panels, grouped by resolution: images/s and CPU ms per image (with the codec floor)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    resolutions = list(report["resolutions"])
    names = [
        n
        for n in stats.TRANSFORMERS
        if any(n in b["transformers"] for b in report["resolutions"].values())
    ]
    fig, (ax_tput, ax_cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / (len(names) + 1)
    for i, name in enumerate(names):
        xs = [r + i * width for r in range(len(resolutions))]
        blocks = [report["resolutions"][r]["transformers"].get(name, {}) for r in resolutions]
        tput = [b.get("images_per_s") or 0 for b in blocks]
        cost = [b.get("cpu_ms_per_image") or 0 for b in blocks]
        ax_tput.bar_label(ax_tput.bar(xs, tput, width, label=LABELS[name]), fmt="%.1f", fontsize=7)
        ax_cpu.bar_label(ax_cpu.bar(xs, cost, width, label=LABELS[name]), fmt="%.0f", fontsize=7)
    floor_xs = [r + len(names) * width for r in range(len(resolutions))]
    floors = [report["resolutions"][r]["codec_floor_ms"] for r in resolutions]
    bars = ax_cpu.bar(floor_xs, floors, width, label="JPEG codec floor", color="grey")
    ax_cpu.bar_label(bars, fmt="%.0f", fontsize=7)
    for ax, title in (
        (ax_tput, "images/s (higher is better)"),
        (ax_cpu, "transformer CPU ms per image (lower is better)"),
    ):
        ax.set_xticks([r + width * len(names) / 2 for r in range(len(resolutions))], resolutions)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    ax_cpu.legend(fontsize=8)
    s = report["settings"]
    fig.suptitle(
        f"siteveil bench: {s['clients']} clients, {s['workers']} workers, {s['rounds']} rounds, "
        f"{report['machine']['cpus']} CPUs",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
