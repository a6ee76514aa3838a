"""`make gpu-check`: which models it builds and how, and what it does without a GPU (prints its
steps, exits non-zero with the reason, builds nothing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from export.gpu_check import (
    discover_models,
    engine_command,
    exercise_triton,
    find_tritonserver,
    libnvinfer_version,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SEGMENTER_CONFIG = REPO_ROOT / "model_repository/person_segmenter/config.pbtxt"


def test_every_model_directory_with_an_onnx_and_a_config_is_checked(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    seg = repo / "segmenter"
    for version in ("1", "2"):
        (seg / version).mkdir(parents=True)
    (seg / "1" / "model.onnx").write_bytes(b"v1")
    (seg / "2" / "model.onnx").write_bytes(b"v2")
    (seg / "3").mkdir()  # a version without ONNX (a plan-only one) is passed over
    shutil.copyfile(SEGMENTER_CONFIG, seg / "config.pbtxt")
    (repo / "no_config" / "1").mkdir(parents=True)
    (repo / "no_config" / "1" / "model.onnx").write_bytes(b"x")
    (repo / "no_onnx" / "1").mkdir(parents=True)
    shutil.copyfile(SEGMENTER_CONFIG, repo / "no_onnx" / "config.pbtxt")
    detector = repo / "detector"
    (detector / "1").mkdir(parents=True)
    (detector / "1" / "model.onnx").write_bytes(b"d")
    (detector / "config.pbtxt").write_text(
        'name: "detector"\nmax_batch_size: 4\ninput {\n  name: "input"\n  dims: 3\n'
        "  dims: -1\n  dims: -1\n}\n"
    )
    models = {m.name: m for m in discover_models(repo)}
    assert set(models) == {"segmenter", "detector"}
    assert models["segmenter"].onnx == seg / "2" / "model.onnx"
    assert (models["segmenter"].max_batch, models["segmenter"].batches) == (8, (1, 2, 4, 8))
    assert models["segmenter"].input_dims == (("image", (256, 256, 3)),)
    assert models["detector"].batches == (1, 2, 4)
    assert models["detector"].input_dims == ()  # dynamic in Triton: the ONNX must say


def test_the_demo_model_is_built_compared_and_timed_over_its_batch_range(tmp_path: Path) -> None:
    (model,) = [
        m for m in discover_models(REPO_ROOT / "model_repository") if m.name == "person_segmenter"
    ]
    cmd = engine_command(Path(".venv-engine/bin/python"), model, tmp_path, tmp_path / "t.cache")
    assert cmd[:3] == [".venv-engine/bin/python", "-m", "export.engine_cli"]
    text = " ".join(cmd)
    for part in ("--min-batch 1", "--opt-batch 4", "--max-batch 8", "--compare",
                 "--throughput 1,2,4,8", "--input-dims image:256x256x3",
                 f"--report {tmp_path}/person_segmenter/engine.json"):  # fmt: skip
        assert part in text


def test_pytriton_tritonserver_cannot_serve_plans_and_the_reason_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRITONSERVER", raising=False)
    binary, backends, why = find_tritonserver()
    if binary is not None:
        pytest.skip(f"a tritonserver with the tensorrt backend is here: {binary}")
    assert (
        backends is None
        and "run `make gpu-check` inside nvcr.io/nvidia/tritonserver:24.10-py3" in why
    )
    if list(REPO_ROOT.glob(".venv-triton/lib/python3*/site-packages/pytriton")):
        assert "no tensorrt backend (backends: python)" in why  # nvidia-pytriton 0.7.0


def test_without_a_gpu_it_prints_its_steps_and_exits_with_the_reason(tmp_path: Path) -> None:
    out = tmp_path / "gpu-output"
    res = subprocess.run(
        [sys.executable, "-m", "export.gpu_check", "--output", str(out), "--python", "python3.11"],
        cwd=REPO_ROOT,
        env={**os.environ, "PATH": str(tmp_path / "no-nvidia-smi")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 2
    assert "error: no NVIDIA GPU here, nothing was run: nvidia-smi is not on PATH" in res.stderr
    steps = res.stdout
    assert steps.startswith("make gpu-check would (on a GPU machine):")
    assert "python3.11 -m venv" in steps and ".venv-engine" in steps
    assert "NVIDIA_TENSORRT_DISABLE_INTERNAL_PIP=1" in steps and "pip install --no-deps" in steps
    assert "pip check" in steps
    assert "-m export.engine_cli --onnx" in steps and "person_segmenter/1/model.onnx" in steps
    assert "--compare --throughput 1,2,4,8" in steps
    assert f"write {out}/report.json" in steps
    assert not out.exists()  # nothing was built or written


def test_the_images_tensorrt_is_read_from_its_libnvinfer(tmp_path: Path) -> None:
    # inside nvcr.io/nvidia/tritonserver the TensorRT libraries are /usr/lib/x86_64-linux-gnu/
    # libnvinfer.so.<major>.<minor>.<patch> (and links .so / .so.<major>)
    for name in (
        "libnvinfer.so",
        "libnvinfer.so.10",
        "libnvinfer.so.10.5.0",
        "libnvinfer.so.10.4.0",
    ):
        (tmp_path / name).write_bytes(b"")
    assert libnvinfer_version([tmp_path / "absent", tmp_path]) == "10.5.0"
    assert libnvinfer_version([tmp_path / "absent"]) is None


@pytest.mark.e2e
def test_the_serving_step_checks_a_running_triton(tmp_path: Path) -> None:
    """The client half of the Triton step against the local (CPU, Python backend) Triton serving
    the demo model: its version is the chart's 2.51.0, its answers match ONNX Runtime, and every
    batch size of the config is timed. On a GPU machine the same code talks to the tensorrt
    backend."""
    triton = pytest.importorskip("stack.triton", reason="stack/triton.py is not in this checkout")
    try:
        triton.find_install()
    except triton.TritonUnavailable as exc:
        pytest.skip(f"local Triton unavailable: {exc}")
    (model,) = [
        m for m in discover_models(REPO_ROOT / "model_repository") if m.name == "person_segmenter"
    ]
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "model_repository/person_segmenter", repo / "person_segmenter")
    with triton.running_triton(repo, config_name="cpu") as endpoints:
        result = exercise_triton(endpoints.http, [model], time.monotonic() + 120, 0.05)
    assert result["server_version"] == "2.51.0" and result["matches_chart"] is True
    served = result["models"]["person_segmenter"]
    assert served["max_abs_error_vs_onnxruntime"] < 1e-5  # ONNX Runtime on both sides here
    assert [row["batch"] for row in served["throughput_http"]] == [1, 2, 4, 8]
    assert all(row["images_per_s"] > 0 and row["calls"] >= 5 for row in served["throughput_http"])


def test_waiting_for_triton_names_why_it_is_not_ready() -> None:
    """The readiness wait `make gpu-check` and `make bench-gpu` share: a server that exited is
    named with its status; one that never answers is given up on at the deadline."""
    import subprocess
    import sys
    import time

    from export.gpu_check import _free_port, wait_for_triton

    exited = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    exited.wait()
    assert wait_for_triton(exited, _free_port(), time.monotonic() + 60) == "exited 3"
    silent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert wait_for_triton(silent, _free_port(), time.monotonic()) == "not ready in time"
    finally:
        silent.kill()
        silent.wait()
