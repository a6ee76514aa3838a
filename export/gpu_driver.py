"""The NVIDIA GPUs and driver of this machine (``nvidia-smi``), held against CUDA's driver floors.

Two floors matter. Building a plan with the pip wheels (CUDA runtime of ``engine-requirements.txt``)
needs a driver of the CUDA major's minor-version-compatibility floor: CUDA 12.x runs on 525.60.13
or later, CUDA 13.x on 580 or later (NVIDIA, "CUDA Compatibility" → "Minor Version Compatibility"
and the CUDA Toolkit release notes' driver table). Serving the plan in the chart's Triton image
needs that image's floor (``export.serving_image.SERVING``: r560, or the forward-compatible data
center branches its release notes list).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from export.serving_image import SERVING, ServingImage, version_tuple

# CUDA major -> the oldest driver that runs any toolkit of that major (minor version compatibility).
CUDA_DRIVER_FLOOR = {12: "525.60.13", 13: "580"}
QUERY = "index,name,compute_cap,driver_version,memory.total"


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_capability: str
    driver: str
    memory_mib: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "compute_capability": self.compute_capability,
            "driver": self.driver,
            "memory_mib": self.memory_mib,
        }


@dataclass(frozen=True)
class DriverVerdict:
    ok: bool
    message: str


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """Rows of ``nvidia-smi --query-gpu=<QUERY> --format=csv,noheader,nounits``."""
    gpus = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 5:
            raise ValueError(f"unexpected nvidia-smi line {line!r} (expected {QUERY})")
        index, *name_parts, cc, driver, memory = fields
        gpus.append(
            Gpu(
                index=int(index),
                name=",".join(name_parts),
                compute_capability=cc,
                driver=driver,
                memory_mib=int(memory) if memory.isdigit() else None,
            )
        )
    return gpus


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def query_gpus(runner: Runner = subprocess.run) -> tuple[list[Gpu], str]:
    """(GPUs, why none) from ``nvidia-smi``; an empty list comes with the reason."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return [], "nvidia-smi is not on PATH: no NVIDIA driver is installed on this machine"
    cmd: Sequence[str] = [exe, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"]
    try:
        result = runner(cmd, capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], f"nvidia-smi failed to run: {exc}"
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        return [], f"nvidia-smi exited {result.returncode}: {detail[-1] if detail else ''}"
    try:
        gpus = parse_nvidia_smi(result.stdout)
    except ValueError as exc:
        return [], str(exc)
    return (gpus, "") if gpus else ([], "nvidia-smi lists no GPU")


def build_driver_verdict(driver: str, cuda_major: int) -> DriverVerdict:
    """Can this driver run the CUDA ``cuda_major`` runtime that builds the plan?"""
    floor = CUDA_DRIVER_FLOOR.get(cuda_major)
    if floor is None:
        return DriverVerdict(False, f"no known driver floor for CUDA {cuda_major}")
    if version_tuple(driver) >= version_tuple(floor):
        return DriverVerdict(True, f"driver {driver} runs CUDA {cuda_major}.x (needs {floor}+)")
    return DriverVerdict(
        False,
        f"driver {driver} is older than {floor}, the oldest that runs CUDA {cuda_major}.x: install "
        f"an NVIDIA data center driver of branch r{version_tuple(floor)[0]} or later "
        f"(r{version_tuple(SERVING.driver_min)[0]}+ also serves {SERVING.image})",
    )


def serving_driver_verdict(driver: str, serving: ServingImage = SERVING) -> DriverVerdict:
    """Can this driver run ``serving``'s image (its release notes' floor)?"""
    have = version_tuple(driver)
    if have >= version_tuple(serving.driver_min):
        return DriverVerdict(True, f"driver {driver} runs {serving.image} on any GPU")
    for floor in serving.datacenter_driver_floors:
        want = version_tuple(floor)
        if have[0] == want[0] and have >= want:
            return DriverVerdict(
                True,
                f"driver {driver} runs {serving.image} only on a data center GPU (CUDA forward "
                f"compatibility of branch r{want[0]}); other GPUs need r{serving.driver_min}+",
            )
    return DriverVerdict(
        False,
        f"driver {driver} cannot run {serving.image} (CUDA {serving.cuda}): install r"
        f"{serving.driver_min} or later, or on data center GPUs one of "
        + ", ".join(f"{f}+" for f in serving.datacenter_driver_floors),
    )
