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

from export.errors import ExportError, UnsupportedOperator
from export.serving_image import SERVING
from export.tensorrt_build import (
    EngineOptions,
    autocast_onnx_path,
    build_engine,
    compare_with_polygraphy,
    measure_throughput,
    onnx_io,
    parser_error,
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
    plan = tmp_path / "m.plan"
    v10 = trtexec_command(demo_onnx_path, plan, io, options, 10)
    assert f"--onnx={demo_onnx_path}" in v10 and f"--saveEngine={plan}" in v10
    assert "--minShapes=image:1x256x256x3" in v10 and "--maxShapes=image:8x256x256x3" in v10
    assert "--memPoolSize=workspace:1024M" in v10 and "--timingCacheFile=" in v10
    assert v10.endswith("--fp16")
    fp32 = trtexec_command(demo_onnx_path, plan, io, EngineOptions(fp16=False), 10)
    assert fp32.endswith("--noTF32")  # what the FP32 build does: no TF32 either
    # TensorRT 11 removed --fp16: the command runs on the AutoCast ONNX that the build keeps
    # beside the plan (it used to name the FP32 ONNX and delete the AutoCast one)
    autocast = autocast_onnx_path(plan)
    assert autocast == tmp_path / "m.autocast-fp16.onnx"
    v11 = trtexec_command(autocast, plan, io, options, 11)
    assert f"--onnx={autocast}" in v11 and v11.endswith("--stronglyTyped")
    assert "--fp16" not in v11


def test_dynamic_inputs_take_their_dims_from_the_triton_config(
    demo_onnx_path: Path, tmp_path: Path
) -> None:
    dynamic = onnx.load(str(demo_onnx_path))
    for dim in dynamic.graph.input[0].type.tensor_type.shape.dim[1:3]:
        dim.dim_param = "side"
    path = tmp_path / "dynamic.onnx"
    onnx.save(dynamic, str(path))
    with pytest.raises(ExportError, match="--input-dims image:"):
        onnx_io(path)
    assert onnx_io(path, {"image": (320, 320, 3)}).inputs == (("image", (320, 320, 3)),)
    with pytest.raises(ExportError, match="does not fit"):
        onnx_io(path, {"image": (320, 320, 4)})  # the channel axis is fixed at 3


def test_parser_errors_keep_their_meaning() -> None:
    """Only UNSUPPORTED_NODE means "TensorRT has no such operator" (nvonnxparser::ErrorCode)."""
    error = parser_error("UNSUPPORTED_NODE", "No importer registered", "conv_7", "FancyOp")
    assert isinstance(error, UnsupportedOperator) and error.op == "FancyOp"
    attr = parser_error("ErrorCode.UNSUPPORTED_NODE_ATTR", "auto_pad=VALID", "pool_3", "MaxPool")
    assert not isinstance(attr, UnsupportedOperator)
    assert str(attr) == (
        "TensorRT's ONNX parser: node 'pool_3' (MaxPool) uses an attribute TensorRT does not "
        "support (UNSUPPORTED_NODE_ATTR): auto_pad=VALID"
    )
    dtype = parser_error("kUNSUPPORTED_NODE_DATATYPE", "UINT8 input", "cast_1", "Cast")
    assert "a data type TensorRT does not support" in str(dtype)
    graph = parser_error("INVALID_GRAPH", "cycle detected")
    assert not isinstance(graph, UnsupportedOperator)
    assert str(graph) == (
        "TensorRT could not parse the ONNX model: INVALID_GRAPH in the model: cycle detected"
    )


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
    assert metadata["tensorrt_version"] == SERVING.tensorrt_release  # .venv-engine's pin
    assert metadata["cuda_version"] == SERVING.cuda_major_minor
    assert metadata["serving_image_problems"] == []
    assert metadata["gpu"]["compute_capability"] and metadata["timing_cache"] == "new"
    assert metadata["profile"]["image"]["max"] == [8, 256, 256, 3]
    rng = np.random.default_rng(0)
    feeds = [{"image": rng.random((b, 256, 256, 3), dtype=np.float32)} for b in (1, 8)]
    result = compare_with_polygraphy(demo_onnx_path, build.plan_path, feeds, atol=2e-2, rtol=2e-2)
    assert result.passed and 0 <= result.max_abs_error["person_probability"] < 2e-2
    rows = measure_throughput(build.plan_path, onnx_io(demo_onnx_path), (1, 8), seconds=0.2)
    assert [r["batch"] for r in rows] == [1, 8] and all(r["images_per_s"] > 0 for r in rows)


@pytest.mark.gpu
@needs_gpu
def test_a_stale_timing_cache_is_replaced_not_fatal(demo_onnx_path: Path, tmp_path: Path) -> None:
    cache = tmp_path / "timing.cache"
    cache.write_bytes(b"not a timing cache of this TensorRT")
    build = build_engine(
        demo_onnx_path, tmp_path / "m.plan", EngineOptions(timing_cache=cache, max_batch=2)
    )
    assert build.metadata["timing_cache"] == "replaced (stale)"
    assert cache.read_bytes() != b"not a timing cache of this TensorRT"


@pytest.mark.gpu
@needs_gpu
def test_fp32_engine_matches_tightly(demo_onnx_path: Path, tmp_path: Path) -> None:
    build = build_engine(demo_onnx_path, tmp_path / "fp32.plan", EngineOptions(fp16=False))
    assert build.metadata["precision"] == "fp32 (TF32 off)"
    feeds = [{"image": np.random.default_rng(1).random((2, 256, 256, 3), dtype=np.float32)}]
    result = compare_with_polygraphy(demo_onnx_path, build.plan_path, feeds, atol=1e-3, rtol=1e-3)
    assert result.passed, result.max_abs_error


def _offset_model(path: Path, offset: float) -> Path:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"])],
        "offset",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor("c", TensorProto.FLOAT, [1], [offset])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_the_comparison_reports_polygraphys_verdict_and_largest_error(tmp_path: Path) -> None:
    """The same Polygraphy comparison the plan gets, between two ONNX Runtime runners (no GPU)."""
    polygraphy = pytest.importorskip(
        "polygraphy", reason="polygraphy is installed in .venv-engine, not in .venv"
    )
    from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx

    from export.tensorrt_build import compare_runners

    runners = [
        OnnxrtRunner(SessionFromOnnx(str(_offset_model(tmp_path / f"{n}.onnx", c))), name=n)
        for n, c in (("exact", 0.0), ("shifted", 0.05))
    ]
    feeds = [{"x": np.ones((b, 4), dtype=np.float32)} for b in (1, 3)]
    loose = compare_runners(runners, feeds, atol=0.1, rtol=0.0)
    tight = compare_runners(runners, feeds, atol=0.01, rtol=0.0)
    assert loose.passed and not tight.passed, polygraphy.__version__
    assert tight.max_abs_error["y"] == pytest.approx(0.05, abs=1e-6)


def test_random_feeds_follow_each_inputs_dtype(demo_onnx_path: Path, tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    feed = onnx_io(demo_onnx_path).random_feed(3, rng)
    assert feed["image"].shape == (3, 256, 256, 3) and feed["image"].dtype == np.float32
    graph = helper.make_graph(
        [helper.make_node("Cast", ["pixels"], ["y"], to=TensorProto.FLOAT)],
        "u8",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["n", 8, 8, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8, 8, 3])],
    )
    path = tmp_path / "u8.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    io = onnx_io(path)
    assert io.input_dtypes == ("uint8",)
    pixels = io.random_feed(2, rng)["pixels"]
    assert pixels.dtype == np.uint8 and pixels.shape == (2, 8, 8, 3) and pixels.max() > 1


def test_engine_cli_options_are_checked_before_anything_runs(demo_onnx_path: Path) -> None:
    import argparse

    from export.engine_cli import _batches, _dims, main

    assert _dims("image:3x512x512") == ("image", (3, 512, 512))
    assert _batches("1,4, 8") == (1, 4, 8)
    for bad in ("image", "image:3xAx5", "image:0x4", ":3x4"):
        with pytest.raises(argparse.ArgumentTypeError, match="NAME:D1xD2"):
            _dims(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        _batches("0,4")
    # an input-dims that contradicts the ONNX is refused (exit 2) whether or not TensorRT is here
    argv = ["--onnx", str(demo_onnx_path), "--output", "x.plan", "--input-dims", "image:3x256x256"]
    assert main(argv) == 2
