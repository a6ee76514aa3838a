"""The serving image and its TensorRT / CUDA versions: the one place the plan build reads.

A TensorRT plan only deserializes in the TensorRT release it was built with, so the build
environment (``export/engine-requirements.txt``), the plan's metadata check before a publish and
the Helm chart's Triton image (``charts/siteveil/values.yaml`` → ``kserve.triton.image``) must all
name the same release. They cannot import each other (the chart is YAML, the requirements file is
pip's), so this module is the source and ``tests/export/test_tensorrt_versions.py`` holds the
other two to it.

Where the numbers come from (NVIDIA's documentation for the Triton ``24.10`` container):

- Triton Inference Server Release 24.10 notes
  (docs.nvidia.com/deeplearning/triton-inference-server/release-notes/rel-24-10.html): based on
  CUDA 12.6.2, "requires NVIDIA Driver release 560 or later", or on data center GPUs 470.57+ (R470),
  525.85+ (R525), 535.86+ (R535) or 545.23+ (R545) through CUDA forward compatibility.
- The Frameworks Support Matrix, 24.10 column: TensorRT 10.5.0.18 (the pip wheels of that release
  are ``tensorrt-cu12==10.5.0``, whose ``tensorrt.__version__`` is ``"10.5.0"``); Triton server
  2.51.0 (the same server that ``nvidia-pytriton==0.7.0`` ships). The release notes page defers
  the TensorRT version to that matrix; the 10.5.0.18 figure is the matrix's, not re-read from the
  image here: ``make gpu-check`` run inside the image reads its ``libnvinfer.so.*`` and reports
  whether it agrees (``triton.image_tensorrt`` in ``gpu-output/report.json``).
- Not to be confused with ``24.10-trtllm-python-py3``, which carries TensorRT 10.4.0 and CUDA
  12.5.1 (Triton's "Release Compatibility Matrix" page): a plan for one does not load in the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from export.errors import ExportError
from export.fetch import sha256_file


class PlanMismatch(ExportError):
    """A TensorRT plan was built with a TensorRT / CUDA that the serving image does not have."""


@dataclass(frozen=True)
class ServingImage:
    repository: str
    tag: str
    triton_server: str  # the server version inside the image (GET /v2 reports it)
    tensorrt: str  # full version inside the image
    cuda: str  # CUDA toolkit of the image
    driver_min: str  # the image's own driver requirement
    datacenter_driver_floors: tuple[str, ...]  # forward-compatible branches on data center GPUs

    @property
    def image(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def tensorrt_release(self) -> str:
        """``major.minor.patch``: what pip's wheels and ``tensorrt.__version__`` call it."""
        return ".".join(self.tensorrt.split(".")[:3])

    @property
    def cuda_major_minor(self) -> str:
        return ".".join(self.cuda.split(".")[:2])


SERVING = ServingImage(
    repository="nvcr.io/nvidia/tritonserver",
    tag="24.10-py3",
    triton_server="2.51.0",
    tensorrt="10.5.0.18",
    cuda="12.6.2",
    driver_min="560",
    datacenter_driver_floors=("470.57", "525.85", "535.86", "545.23"),
)


def version_tuple(version: str, parts: int | None = None) -> tuple[int, ...]:
    """``"10.5.0.18"`` → ``(10, 5, 0, 18)`` (first ``parts`` numbers); non-numeric tails dropped."""
    numbers = []
    for piece in version.strip().split("."):
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        numbers.append(int(digits))
    if not numbers:
        raise ExportError(f"{version!r} is not a version number")
    return tuple(numbers[:parts] if parts else numbers)


def plan_problems(metadata: Mapping[str, Any], serving: ServingImage = SERVING) -> list[str]:
    """Why a plan with this ``model.plan.json`` would not load in ``serving`` (empty: it would)."""
    problems = []
    trt = str(metadata.get("tensorrt_version") or "")
    if not trt:
        problems.append("model.plan.json records no tensorrt_version")
    elif version_tuple(trt, 3) != version_tuple(serving.tensorrt, 3):
        problems.append(
            f"built with TensorRT {trt}, but {serving.image} runs TensorRT {serving.tensorrt} "
            f"(a plan loads only in the TensorRT release it was built with): rebuild it with "
            f"`make engine` (tensorrt-cu12=={serving.tensorrt_release})"
        )
    cuda = str(metadata.get("cuda_version") or "")
    if not cuda:
        problems.append("model.plan.json records no cuda_version")
    elif version_tuple(cuda, 2) != version_tuple(serving.cuda, 2):
        problems.append(
            f"built against CUDA {cuda}, but {serving.image} has CUDA {serving.cuda}: rebuild "
            f"with `make engine` (CUDA {serving.cuda_major_minor} runtime)"
        )
    return problems


def check_plan(metadata: Mapping[str, Any], serving: ServingImage = SERVING) -> None:
    problems = plan_problems(metadata, serving)
    if problems:
        raise PlanMismatch(
            "the TensorRT plan does not match the serving image: " + "; ".join(problems)
        )


def check_version_plan(
    version_dir: Path, files: Iterable[str], serving: ServingImage = SERVING
) -> None:
    """Refuse a model version whose ``model.plan`` would not load in ``serving``: it must come with
    the ``model.plan.json`` that ``make engine`` writes, describe that very plan, and name the
    serving image's TensorRT and CUDA."""
    if "model.plan" not in set(files):
        return
    meta_path = version_dir / "model.plan.json"
    if not meta_path.is_file():
        raise PlanMismatch(
            f"{version_dir / 'model.plan'} has no model.plan.json, so nothing says which TensorRT "
            f"built it: rebuild it with `make engine` (TensorRT {serving.tensorrt_release})"
        )
    try:
        metadata = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise PlanMismatch(f"{meta_path} is not JSON: {exc}") from exc
    recorded = metadata.get("plan_sha256")
    if recorded != sha256_file(version_dir / "model.plan"):
        raise PlanMismatch(f"{meta_path} describes another plan (plan_sha256 {recorded})")
    check_plan(metadata, serving)
