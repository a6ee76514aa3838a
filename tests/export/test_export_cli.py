"""`python -m export …` as a user runs it: exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import tflite
from onnx import numpy_helper

from export.triton_config import read_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "export", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_convert_then_parity_passes(demo_tflite: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    conv = run_cli(
        "tflite2onnx",
        str(demo_tflite),
        str(out),
        "--input-name",
        "image",
        "--output-name",
        "person_probability",
    )
    assert conv.returncode == 0, conv.stderr
    report = tmp_path / "parity.json"
    par = run_cli("parity-tflite", str(demo_tflite), str(out), "--report", str(report))
    assert par.returncode == 0, par.stdout + par.stderr
    assert "PASSED" in par.stdout and "astronaut" in par.stdout
    assert '"passed": true' in report.read_text()


def test_a_broken_export_fails_parity_with_exit_1(
    demo_tflite: Path, demo_onnx: onnx.ModelProto, tmp_path: Path
) -> None:
    broken = onnx.ModelProto()
    broken.CopyFrom(demo_onnx)
    last_bias = next(i for i in reversed(broken.graph.initializer) if i.name.endswith("_B"))
    last_bias.CopyFrom(
        numpy_helper.from_array(numpy_helper.to_array(last_bias) + np.float32(0.5), last_bias.name)
    )
    path = tmp_path / "broken.onnx"
    onnx.save(broken, path)
    par = run_cli("parity-tflite", str(demo_tflite), str(path))
    assert par.returncode == 1
    assert "FAILED" in par.stdout


def test_unsupported_op_exits_2_naming_the_op(
    tiny_tflite: Callable[..., bytes], tmp_path: Path
) -> None:
    src = tmp_path / "tanh.tflite"
    src.write_bytes(tiny_tflite(tflite.BuiltinOperator.TANH))
    res = run_cli("tflite2onnx", str(src), str(tmp_path / "out.onnx"))
    assert res.returncode == 2
    assert "unsupported operator TANH" in res.stderr
    assert not (tmp_path / "out.onnx").exists()


def test_missing_file_exits_2(tmp_path: Path) -> None:
    res = run_cli("tflite2onnx", str(tmp_path / "nope.tflite"), str(tmp_path / "out.onnx"))
    assert res.returncode == 2
    assert "not found" in res.stderr


@pytest.mark.parametrize(("flag", "expected"), [([], "1"), (["--ort-intra-op-threads", "0"], None)])
def test_configs_write_the_onnx_runtime_thread_count(
    tmp_path: Path, flag: list[str], expected: str | None
) -> None:
    done = run_cli("configs", "--repository", str(tmp_path), *flag)
    assert done.returncode == 0, done.stderr
    config = read_config(tmp_path / "person_segmenter" / "configs" / "cpu.pbtxt")
    params = {k: v.string_value for k, v in config.parameters.items()}
    assert params.get("ort_intra_op_threads") == expected  # absent: model.py's default (per core)
