"""The NVIDIA driver against CUDA's floors, from nvidia-smi's output. The driver is the boundary
here: a stand-in `nvidia-smi` prints what a real one prints for the GPUs we name."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from export.gpu_driver import (
    build_driver_verdict,
    parse_nvidia_smi,
    query_gpus,
    serving_driver_verdict,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
# nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total
#            --format=csv,noheader,nounits on a two-GPU machine
TWO_GPUS = "0, NVIDIA H100 80GB HBM3, 9.0, 550.54.15, 81559\n1, Tesla T4, 7.5, 550.54.15, 15360\n"


def fake_nvidia_smi(directory: Path, stdout: str, code: int = 0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '%s' '{stdout}'\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return directory


def test_nvidia_smi_rows_are_parsed() -> None:
    gpus = parse_nvidia_smi(TWO_GPUS)
    assert [(g.index, g.name, g.compute_capability, g.driver, g.memory_mib) for g in gpus] == [
        (0, "NVIDIA H100 80GB HBM3", "9.0", "550.54.15", 81559),
        (1, "Tesla T4", "7.5", "550.54.15", 15360),
    ]
    with pytest.raises(ValueError, match="unexpected nvidia-smi line"):
        parse_nvidia_smi("NVIDIA-SMI has failed\n")


@pytest.mark.parametrize(
    ("driver", "cuda", "ok"),
    [
        ("525.60.13", 12, True),  # CUDA 12.x minor version compatibility floor
        ("525.60.12", 12, False),
        ("470.256.02", 12, False),
        ("560.35.03", 12, True),
        ("575.57.08", 13, False),  # CUDA 13 builds (TensorRT 11) need r580
        ("580.65.06", 13, True),
    ],
)
def test_the_build_needs_the_cuda_majors_driver_floor(driver: str, cuda: int, ok: bool) -> None:
    verdict = build_driver_verdict(driver, cuda)
    assert verdict.ok is ok
    if not ok:
        assert f"driver {driver} is older than" in verdict.message and "install" in verdict.message


def test_the_serving_image_floor_follows_its_release_notes() -> None:
    assert serving_driver_verdict("560.35.03").ok
    datacenter = serving_driver_verdict("535.104.05")
    assert datacenter.ok and "only on a data center GPU" in datacenter.message
    old = serving_driver_verdict("535.54.03")  # R535 but before 535.86
    assert not old.ok and "install r560 or later" in old.message
    assert not serving_driver_verdict("555.42.06").ok  # R555 is not forward compatible


def test_query_gpus_reads_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_nvidia_smi(tmp_path / "bin", TWO_GPUS)))
    gpus, why = query_gpus()
    assert why == "" and [g.name for g in gpus] == ["NVIDIA H100 80GB HBM3", "Tesla T4"]


def test_query_gpus_says_why_there_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    gpus, why = query_gpus()
    assert gpus == [] and "nvidia-smi is not on PATH" in why
    broken = "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver."
    monkeypatch.setenv("PATH", str(fake_nvidia_smi(tmp_path / "bin", broken, code=9)))
    gpus, why = query_gpus()
    assert gpus == [] and why == f"nvidia-smi exited 9: {broken}"


def test_gpu_check_refuses_an_old_driver_and_says_what_to_install(tmp_path: Path) -> None:
    import subprocess

    bin_dir = fake_nvidia_smi(tmp_path / "bin", "0, Tesla T4, 7.5, 470.256.02, 15360\n")
    res = subprocess.run(
        [sys.executable, "-m", "export.gpu_check", "--output", str(tmp_path / "out")],
        cwd=REPO_ROOT,
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "driver 470.256.02 is older than 525.60.13" in res.stderr
    assert "install an NVIDIA data center driver of branch r525 or later" in res.stderr
    assert not (tmp_path / "out").exists()  # nothing built
