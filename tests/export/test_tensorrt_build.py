"""ONNX → TensorRT. The build itself needs TensorRT and an NVIDIA GPU: elsewhere it is skipped
with the reason printed, never faked. The command line and profile logic are checked everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from export.errors import ExportError
from export.tensorrt_build import (
    EngineOptions,
    build_engine,
    compare_with_polygraphy,
    onnx_io,
    profile_shapes,
    tensorrt_status,
    trtexec_command,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TRT_USABLE, TRT_REASON = tensorrt_status()
needs_gpu = pytest.mark.skipif(not TRT_USABLE, reason=f"TensorRT build skipped: {TRT_REASON}")


@pytest.fixture
def demo_onnx_path(demo_onnx: onnx.ModelProto, tmp_path: Path) -> Path:
    path = tmp_path / "model.onnx"
    onnx.save(demo_onnx, str(path))
    return path


def test_profile_covers_the_triton_batch_range(demo_onnx_path: Path) -> None:
    io = onnx_io(demo_onnx_path)
    assert io.inputs == (("image", (256, 256, 3)),)
    assert profile_shapes((256, 256, 3), EngineOptions()) == (
        (1, 256, 256, 3),
        (4, 256, 256, 3),
        (8, 256, 256, 3),
    )
    with pytest.raises(ExportError):
        EngineOptions(min_batch=4, opt_batch=2)


def test_trtexec_equivalent_per_tensorrt_major(demo_onnx_path: Path, tmp_path: Path) -> None:
    io = onnx_io(demo_onnx_path)
    options = EngineOptions(timing_cache=tmp_path / "timing.cache")
    v10 = trtexec_command(demo_onnx_path, tmp_path / "m.plan", io, options, 10)
    assert "--minShapes=image:1x256x256x3" in v10 and "--maxShapes=image:8x256x256x3" in v10
    assert "--memPoolSize=workspace:1024M" in v10 and "--timingCacheFile=" in v10
    assert v10.endswith("--fp16")
    v11 = trtexec_command(demo_onnx_path, tmp_path / "m.plan", io, options, 11)
    assert "--fp16" not in v11  # removed in TensorRT 11: FP16 comes from the AutoCast ONNX


def test_engine_step_without_tensorrt_says_why_and_prints_trtexec(
    demo_onnx_path: Path, tmp_path: Path
) -> None:
    if TRT_USABLE:
        pytest.skip("TensorRT is usable here; the real build is tested below")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "export",
            "engine",
            "--onnx",
            str(demo_onnx_path),
            "--output",
            str(tmp_path / "model.plan"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 2
    assert "cannot build a TensorRT engine here" in res.stderr
    assert "trtexec --onnx=" in res.stdout
    assert not (tmp_path / "model.plan").exists()


@pytest.mark.gpu
@needs_gpu
def test_build_demo_engine_and_compare_with_polygraphy(
    demo_onnx_path: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "timing.cache"
    build = build_engine(
        demo_onnx_path, tmp_path / "model.plan", EngineOptions(timing_cache=cache, max_batch=8)
    )
    assert build.plan_path.stat().st_size > 0 and cache.stat().st_size > 0
    metadata = json.loads(build.metadata_path.read_text())
    assert metadata["tensorrt_version"] and metadata["gpu"]["compute_capability"]
    assert metadata["profile"]["image"]["max"] == [8, 256, 256, 3]
    rng = np.random.default_rng(0)
    feeds = [{"image": rng.random((b, 256, 256, 3), dtype=np.float32)} for b in (1, 8)]
    assert compare_with_polygraphy(demo_onnx_path, build.plan_path, feeds, atol=2e-2, rtol=2e-2)


@pytest.mark.gpu
@needs_gpu
def test_fp32_engine_matches_tightly(demo_onnx_path: Path, tmp_path: Path) -> None:
    build = build_engine(demo_onnx_path, tmp_path / "fp32.plan", EngineOptions(fp16=False))
    assert build.metadata["precision"] == "fp32"
    feeds = [{"image": np.random.default_rng(1).random((2, 256, 256, 3), dtype=np.float32)}]
    assert compare_with_polygraphy(demo_onnx_path, build.plan_path, feeds, atol=1e-3, rtol=1e-3)
