"""`make bench-gpu` (bench/gpu.py): the pure parts here, the load driver against the local (CPU)
Triton, and the whole run where a GPU, TensorRT and a tritonserver with the tensorrt backend
exist (skipped elsewhere, with the reason).

The ``nvidia-smi dmon`` samples below are real output layouts: ``-s u`` on an older driver
(gpu sm mem enc dec) and on a newer one (jpg, ofa added; ``-`` where unsupported), the default
metric set (Lei Mao, "NVIDIA NVML GPU Statistics", leimao.github.io, driver 5xx), and ``-o DT``
(date and time columns in front). The meaning of ``sm``: the percentage of time at least one SM
was busy over the sample period (nvidia-smi(1), "dmon").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import gpu
from export.gpu_check import _config_fields, find_tritonserver
from export.gpu_driver import query_gpus

REPO_ROOT = Path(__file__).resolve().parents[2]
SEGMENTER = REPO_ROOT / "model_repository" / "person_segmenter"

DMON_OLD = """\
# gpu    sm   mem   enc   dec
# Idx     %     %     %     %
    0    67    40     0     0
    0    57    35     0     0
    0    69    41     0     0
    0    30    14     0     0
"""
DMON_NEW = """\
# gpu    sm   mem   enc   dec   jpg   ofa
# Idx     %     %     %     %     %     %
    0    94    58     -     -     -     -
    0    97    61     -     -     -     -
    0    91    55     -     -     -     -
"""
DMON_DEFAULT = """\
# gpu pwr gtemp mtemp sm mem enc dec jpg ofa mclk pclk
# Idx W C C % % % % % % MHz MHz
0 8 42 - 1 11 0 0 0 0 405 502
0 14 43 - 0 1 0 0 0 0 7001 1492
0 15 43 - 0 1 0 0 0 0 7001 1492
"""
DMON_DATE_TIME = """\
#Date       Time        gpu     fb   bar1   ccpm     sm    mem    enc    dec    jpg    ofa  rxpci  txpci   mclk   pclk
#YYYYMMDD   HH:MM:SS    Idx     MB     MB     MB      %      %      %      %      %      %   MB/s   MB/s    MHz    MHz
 20240104   13:54:35      0    239      3      0      6      1      0      0      0      0      5     10   6250   1695
 20240104   13:54:36      0     74     10      0     80      1      0      0      0      0      5     10   6250   1695
 20240104   13:54:37      0     74     10      0     90      1      0      0      0      0      5     10   6250   1695
"""  # noqa: E501


# --- dmon parsing ------------------------------------------------------------------------------


def test_dmon_sm_column_is_read_by_name_in_every_layout() -> None:
    assert [r["sm"] for r in gpu.parse_dmon(DMON_OLD)] == [67, 57, 69, 30]
    assert [r["sm"] for r in gpu.parse_dmon(DMON_NEW)] == [94, 97, 91]
    assert [r["sm"] for r in gpu.parse_dmon(DMON_DEFAULT)] == [1, 0, 0]
    assert [r["sm"] for r in gpu.parse_dmon(DMON_DATE_TIME)] == [6, 80, 90]


def test_dmon_unsupported_metrics_are_none_not_zero() -> None:
    row = gpu.parse_dmon(DMON_NEW)[0]
    assert row["enc"] is None and row["jpg"] is None and row["mem"] == 58


def test_mean_sm_leaves_out_the_first_sample_and_other_gpus() -> None:
    assert gpu.mean_sm(gpu.parse_dmon(DMON_OLD)) == pytest.approx((57 + 69 + 30) / 3, abs=0.05)
    assert gpu.mean_sm(gpu.parse_dmon(DMON_DATE_TIME)) == 85.0
    two_gpus = DMON_OLD + "    1    10    5     0     0\n    1    20    5     0     0\n"
    assert gpu.mean_sm(gpu.parse_dmon(two_gpus), gpu=1, skip=0) == 15.0
    assert gpu.mean_sm(gpu.parse_dmon("No devices were found\n")) is None


def test_dmon_repeated_headers_and_a_truncated_last_line_are_skipped() -> None:
    text = DMON_OLD + DMON_OLD.splitlines()[0] + "\n    0    88    40     0     0\n    0    7"
    assert [r["sm"] for r in gpu.parse_dmon(text)] == [67, 57, 69, 30, 88]


# --- workers for a 90 % busy GPU -----------------------------------------------------------------


def point(
    images_per_s: float, util: float | None, batch: int = 1, clients: int = 1
) -> gpu.LoadPoint:
    seconds = 5.0
    images = round(images_per_s * seconds)
    return gpu.LoadPoint(batch, clients, images // batch, images, seconds, 3.0, 9.0, util)


def test_workers_come_from_the_lowest_rate_that_keeps_the_gpu_90_percent_busy() -> None:
    like = [point(400, 40, clients=1), point(900, 88, clients=4), point(1200, 93, clients=8),
            point(1300, 97, clients=16)]  # fmt: skip
    verdict = gpu.workers_for_busy_gpu(like, [], per_worker_images_per_s=10.8)
    assert verdict.gpu_images_per_s == 1200
    assert verdict.workers == 112  # ceil(1200 / 10.8) = 111.1 -> 112; 111 x 10.8 = 1198.8 < 1200
    assert "transformer-like" in verdict.basis


def test_batched_points_are_used_when_single_image_clients_never_fill_the_gpu() -> None:
    like = [point(300, 35), point(500, 60)]
    batches = [point(800, 80, batch=8), point(1500, 95, batch=32)]
    verdict = gpu.workers_for_busy_gpu(like, batches, per_worker_images_per_s=15.0)
    assert (verdict.gpu_images_per_s, verdict.workers) == (1500, 100)
    assert "batched" in verdict.basis


def test_a_gpu_never_90_percent_busy_is_said_and_the_top_rate_used() -> None:
    verdict = gpu.workers_for_busy_gpu([point(300, 35)], [point(700, 70, batch=32)], 10.0)
    assert verdict.workers == 70 and "never reached 90" in verdict.basis


def test_without_a_bench_report_the_workers_are_unknown_not_invented() -> None:
    verdict = gpu.workers_for_busy_gpu([point(1000, 95)], [], None)
    assert verdict.workers is None and verdict.gpu_images_per_s == 1000
    assert "no bench report" in verdict.basis


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert gpu.percentile(values, 99) == 99 and gpu.percentile(values, 50) == 50
    assert gpu.percentile([7.0], 99) == 7.0


# --- the bench profile ---------------------------------------------------------------------------


def test_the_bench_config_serves_batch_32_and_keeps_the_model_contract() -> None:
    original = (SEGMENTER / "config.pbtxt").read_text()
    text = gpu.bench_config(original)
    max_batch, dims = _config_fields(text)
    assert max_batch == 32 and dims == _config_fields(original)[1]
    assert "preferred_batch_size: 32" in text and 'platform: "tensorrt_plan"' in text
    assert text.count("preferred_batch_size") == 4
    assert text.replace("max_batch_size: 32", "").count("siteveil.") == original.count("siteveil.")


def test_the_plan_is_built_with_a_profile_up_to_32_by_make_engines_tool(tmp_path: Path) -> None:
    from export.gpu_check import Model, engine_command

    config = tmp_path / "config.pbtxt"
    config.write_text(gpu.bench_config((SEGMENTER / "config.pbtxt").read_text()))
    max_batch, dims = _config_fields(config.read_text())
    model = Model("person_segmenter", SEGMENTER / "1/model.onnx", config, max_batch, dims)
    text = " ".join(engine_command(Path("py"), model, tmp_path, tmp_path / "cache"))
    assert "-m export.engine_cli" in text and "--max-batch 32" in text and "--compare" in text
    assert "--throughput 1,2,4,8,16,32" in text


def test_markdown_table_has_a_row_per_point() -> None:
    rows = [point(400, 40, batch=b).to_dict() for b in gpu.BATCHES]
    report = {"gpu": "NVIDIA L4", "clients": 8, "seconds": 5, "batches": rows,
              "transformer_like": [point(900, 91, clients=16).to_dict()],
              "workers_for_90pct": 84, "workers_basis": "x"}  # fmt: skip
    text = gpu.markdown(report)
    assert text.count("\n| ") == 1 + len(gpu.BATCHES) + 1
    assert "**84**" in text and "| 32 | 1 | 400.0 |" in text


# --- without a GPU -----------------------------------------------------------------------------


def test_without_a_gpu_it_exits_with_the_reason_and_builds_nothing(tmp_path: Path) -> None:
    out = tmp_path / "gpu-bench-output"
    res = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--output", str(out)],
        cwd=REPO_ROOT,
        env={**os.environ, "PATH": str(tmp_path / "no-nvidia-smi"), "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 2
    assert "error: no NVIDIA GPU here, nothing was run: nvidia-smi is not on PATH" in res.stderr
    assert not out.exists()


# --- the load driver, for real, against the local CPU Triton -------------------------------------


@pytest.mark.e2e
def test_the_load_driver_measures_a_running_triton(tmp_path: Path) -> None:
    """The same client processes as on the GPU, against the local Triton (CPU, the demo model):
    requests are answered, counted, and their latencies give p50 <= p99."""
    triton = pytest.importorskip("stack.triton", reason="stack/triton.py is not in this checkout")
    try:
        triton.find_install()
    except triton.TritonUnavailable as exc:
        pytest.skip(f"local Triton unavailable: {exc}")
    repo = tmp_path / "repo"
    shutil.copytree(
        SEGMENTER, repo / "person_segmenter", ignore=shutil.ignore_patterns("__pycache__")
    )
    with triton.running_triton(repo, config_name="cpu") as endpoints, gpu.load_pool(2) as pool:
        p = gpu.drive(pool, endpoints.http, batch=2, clients=2, seconds=1.5, gpu=None, warmup=0.5)
        print(f"local CPU Triton, batch 2 x 2 clients: {p.to_dict()}")
    assert p.errors == 0 and p.requests > 0 and p.images == 2 * p.requests
    assert 0 < p.p50_ms <= p.p99_ms and p.images_per_s > 0
    assert p.gpu_util_pct is None


# --- the whole run, where it can run -----------------------------------------------------------


def _gpu_bench_skip_reason() -> str | None:
    gpus, why = query_gpus()
    if not gpus:
        return f"no GPU: {why}"
    binary, _, reason = find_tritonserver()
    if binary is None:
        return reason
    return None


@pytest.mark.e2e
def test_make_bench_gpu_writes_a_report_the_planner_reads(tmp_path: Path) -> None:
    reason = _gpu_bench_skip_reason()
    if reason:
        print(f"SKIPPED the GPU bench: {reason}")
        pytest.skip(reason)
    out = tmp_path / "gpu-bench-output"
    res = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--output", str(out), "--seconds", "2",
         "--clients", "4", "--max-clients", "8", "--per-worker-images-per-s", "10",
         "--python", "python3.11"],
        cwd=REPO_ROOT, timeout=900, check=False,
    )  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    assert res.returncode == 0, report.get("workers_basis")
    assert report["schema"] == gpu.SCHEMA
    assert [r["batch"] for r in report["batches"]] == list(gpu.BATCHES)
    assert all(r["images_per_s"] > 0 and r["errors"] == 0 for r in report["batches"])
    assert all(r["gpu_util_pct"] is not None for r in report["batches"])
    assert report["engine"]["comparison"]["passed"] is True
    assert report["workers_for_90pct"] >= 1
    from bench.plan import parse_gpu_report

    assert parse_gpu_report(report, "r").workers_for_90pct == report["workers_for_90pct"]
