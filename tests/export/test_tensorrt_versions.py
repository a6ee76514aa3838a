"""The TensorRT release of the build is the serving image's: one source (export/serving_image.py)
that the chart, the engine requirements and the plan's metadata are held to, and a publish that
refuses a plan the chart's Triton could not load. No GPU needed."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from export.cuda_runtime import (
    cuda_runtime_version,
    cudart_candidates,
    format_cuda_version,
    make_cudart_findable,
)
from export.fetch import sha256_file
from export.publish import publish_version
from export.serving_image import (
    SERVING,
    PlanMismatch,
    check_version_plan,
    plan_problems,
    version_tuple,
)
from export.triton_config import PERSON_SEGMENTER, write_configs
from export.versions import create_version
from tests.charts.chart_support import container, one, render

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO_ROOT / "export" / "engine-requirements.txt"
MATCHING = {"tensorrt_version": "10.5.0", "cuda_version": "12.6"}


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_the_serving_image_is_triton_24_10_with_tensorrt_10_5_and_cuda_12_6() -> None:
    # NVIDIA's Triton 24.10 release notes (CUDA 12.6.2, driver r560) and Frameworks Support
    # Matrix (TensorRT 10.5.0.18, Triton 2.51.0); see export/serving_image.py.
    assert SERVING.image == "nvcr.io/nvidia/tritonserver:24.10-py3"
    assert (SERVING.tensorrt, SERVING.cuda, SERVING.triton_server) == (
        "10.5.0.18",
        "12.6.2",
        "2.51.0",
    )
    assert (SERVING.tensorrt_release, SERVING.cuda_major_minor) == ("10.5.0", "12.6")


def test_the_chart_serves_the_image_the_plans_are_built_for() -> None:
    values = yaml.safe_load((REPO_ROOT / "charts/siteveil/values.yaml").read_text())
    image = values["inference"]["triton"]["image"]
    assert (image["repository"], image["tag"]) == (SERVING.repository, SERVING.tag), (
        "the chart's Triton image changed: update export/serving_image.py and "
        "export/engine-requirements.txt to its TensorRT/CUDA, then rebuild every plan"
    )
    isvc = one(render(), "InferenceService", "siteveil")
    assert container(isvc, "kserve-container")["image"] == SERVING.image


def test_the_engine_environment_pins_the_serving_tensorrt_and_cuda() -> None:
    pins = _pins(REQUIREMENTS)
    for dist in ("tensorrt-cu12", "tensorrt-cu12-bindings", "tensorrt-cu12-libs"):
        assert pins[dist] == SERVING.tensorrt_release, dist
    cudart = pins["nvidia-cuda-runtime-cu12"]
    assert version_tuple(cudart, 2) == version_tuple(SERVING.cuda, 2)
    extra = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["tensorrt"]
    assert f"tensorrt-cu12=={SERVING.tensorrt_release}" in extra


def test_a_plan_of_the_serving_release_passes_and_others_are_named() -> None:
    assert plan_problems(MATCHING) == []
    assert plan_problems({"tensorrt_version": "10.5.0.18", "cuda_version": "12.6"}) == []
    problems = plan_problems({"tensorrt_version": "11.4.0", "cuda_version": "13.0"})
    assert len(problems) == 2
    assert "TensorRT 11.4.0" in problems[0] and "10.5.0.18" in problems[0]
    assert "CUDA 13.0" in problems[1] and "12.6.2" in problems[1]
    assert plan_problems({"tensorrt_version": "10.5.1", "cuda_version": "12.6"})  # patch counts
    assert plan_problems({}) == [
        "model.plan.json records no tensorrt_version",
        "model.plan.json records no cuda_version",
    ]


def _version_with_plan(tmp_path: Path, metadata: dict[str, object] | None) -> Path:
    model_dir = tmp_path / "repo" / "person_segmenter"
    write_configs(model_dir, PERSON_SEGMENTER)
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"serialized engine bytes")
    files: dict[str, Path | bytes] = {"model.onnx": b"onnx", "model.plan": plan}
    if metadata is not None:
        full = {**metadata, "plan_sha256": sha256_file(plan)}
        files["model.plan.json"] = json.dumps(full).encode()
    create_version(model_dir, files, source={}, options={})
    return model_dir


def test_publish_refuses_a_plan_built_with_another_tensorrt(tmp_path: Path) -> None:
    model_dir = _version_with_plan(tmp_path, {"tensorrt_version": "11.4.0", "cuda_version": "13.0"})
    with pytest.raises(PlanMismatch, match=r"TensorRT 11\.4\.0.*make engine"):
        # refused before any S3 call: no client is ever made
        publish_version(model_dir, 1, "s3://models-bucket/models")


def test_publish_refuses_a_plan_without_metadata(tmp_path: Path) -> None:
    model_dir = _version_with_plan(tmp_path, None)
    with pytest.raises(PlanMismatch, match="no model.plan.json"):
        publish_version(model_dir, 1, "s3://models-bucket/models")


def test_a_plan_of_the_serving_release_may_be_published(tmp_path: Path) -> None:
    model_dir = _version_with_plan(tmp_path, MATCHING)
    check_version_plan(model_dir / "1", ["model.onnx", "model.plan", "model.plan.json"])
    (model_dir / "1" / "model.plan").write_bytes(b"another engine")
    with pytest.raises(PlanMismatch, match="describes another plan"):
        check_version_plan(model_dir / "1", ["model.plan"])


def test_cuda_runtime_version_numbers() -> None:
    assert format_cuda_version(12060) == "12.6"
    assert format_cuda_version(13000) == "13.0"
    with pytest.raises(ValueError):
        format_cuda_version(0)


def test_the_wheel_libcudart_is_put_where_polygraphy_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Polygraphy globs libcudart.so* in LD_LIBRARY_PATH's directories; the wheels install it as
    # nvidia/cuda_runtime/lib/libcudart.so.12 (CUDA 12) or nvidia/cu13/lib/libcudart.so.13.
    site = tmp_path / "site-packages"
    lib12 = site / "nvidia/cuda_runtime/lib"
    lib12.mkdir(parents=True)
    (lib12 / "libcudart.so.12").write_bytes(b"")
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/other")
    assert cudart_candidates([str(tmp_path / "absent"), str(site)]) == [lib12 / "libcudart.so.12"]
    assert make_cudart_findable([str(site)]) == lib12 / "libcudart.so.12"
    assert re.split(":", __import__("os").environ["LD_LIBRARY_PATH"]) == [str(lib12), "/opt/other"]
    make_cudart_findable([str(site)])  # idempotent
    assert __import__("os").environ["LD_LIBRARY_PATH"].count(str(lib12)) == 1
    assert make_cudart_findable([str(tmp_path)]) is None


def test_the_installed_cuda_runtime_reports_its_version() -> None:
    """cudaRuntimeGetVersion needs no GPU: the wheel's libcudart (in .venv-engine) or a
    toolkit's on the loader path answers."""
    found = cudart_candidates()
    version = cuda_runtime_version(found[0] if found else None)
    if version is None:
        pytest.skip("no CUDA runtime library here (the wheel is in .venv-engine)")
    assert re.fullmatch(r"1[23]\.\d+", version), version
