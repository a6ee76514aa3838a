"""The engine's own virtualenv (.venv-engine): exactly the pinned packages of
export/engine-requirements.txt, installed with --no-deps + pip check, never into .venv."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from export import engine_env

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO_ROOT / "export" / "engine-requirements.txt"
# Import name -> the pinned distribution that provides it in .venv-engine.
PROVIDED = {"numpy": "numpy", "onnx": "onnx", "onnxruntime": "onnxruntime"}


def _lines() -> list[str]:
    return [
        line.split("#", 1)[0].strip()
        for line in REQUIREMENTS.read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]


def _pins() -> dict[str, str]:
    pins = {}
    for line in _lines():
        if not line.startswith("-"):
            name, sep, version = line.partition("==")
            assert sep and version and not any(c in version for c in "<>=!~*,"), line
            pins[name.lower()] = version
    return pins


def test_every_package_is_pinned_exactly_and_only_nvidias_index_is_added() -> None:
    options = [line for line in _lines() if line.startswith("-")]
    assert options == ["--extra-index-url https://pypi.nvidia.com"]
    assert len(_pins()) == len([line for line in _lines() if not line.startswith("-")])


def test_no_gpu_onnxruntime_no_torch_no_modelopt() -> None:
    pins = _pins()
    assert "onnxruntime" in pins  # the CPU build, the parity reference
    forbidden = {"onnxruntime-gpu", "torch", "nvidia-modelopt", "tensorrt", "tensorrt-cu13"}
    assert not forbidden & set(pins), forbidden & set(pins)
    assert not any(name.startswith(("torch", "nvidia-cudnn", "nvidia-cublas")) for name in pins)
    # polygraphy >= 0.49 for TensorRT 10, < 0.60 where CompareFunc.simple goes
    major, minor = (int(p) for p in pins["polygraphy"].split(".")[:2])
    assert (0, 49) <= (major, minor) < (0, 60)


def test_the_install_takes_only_the_pins_and_checks_they_are_complete(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    commands = engine_env.install_commands(venv, REQUIREMENTS, "python3.11")
    assert commands[0] == ["python3.11", "-m", "venv", str(venv)]
    assert commands[1][1:5] == ["-m", "pip", "install", "--no-deps"]
    assert commands[1][-2:] == ["-r", str(REQUIREMENTS)]
    assert commands[2][1:] == ["-m", "pip", "check"]
    assert engine_env.INSTALL_ENV["NVIDIA_TENSORRT_DISABLE_INTERNAL_PIP"] == "1"
    assert not engine_env.is_current(venv, REQUIREMENTS)


def _module_imports(path: Path) -> set[str]:
    """Top-level names imported at module level (not inside functions)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_engine_cli_starts_with_only_what_the_environment_pins() -> None:
    """`python -m export.engine_cli` runs in .venv-engine: everything it imports at start-up,
    following our own modules, is the standard library or a pinned package."""
    pins = _pins()
    seen, todo, third_party = set(), ["export.engine_cli", "export.tensorrt_build"], set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in _module_imports(REPO_ROOT / (module.replace(".", "/") + ".py")):
            top = name.split(".")[0]
            if top == "export" and name != "export":
                todo.append(name)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    assert third_party == {"numpy", "onnx"}
    assert all(PROVIDED[name] in pins for name in third_party)


def test_gpu_check_preflight_runs_on_a_bare_python(tmp_path: Path) -> None:
    """`make gpu-check` / `make engine` check the GPU with the standard library only (python -S:
    no site-packages), before any virtualenv exists."""
    res = subprocess.run(
        [sys.executable, "-S", "-m", "export.gpu_check", "--preflight", "--output", str(tmp_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "PATH": str(tmp_path / "no-nvidia-smi")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "ModuleNotFoundError" not in res.stderr, res.stderr
    assert res.returncode == 2 and "no NVIDIA GPU here" in res.stderr


@pytest.mark.skipif(
    os.environ.get("SITEVEIL_NETWORK_TESTS") != "1",
    reason="resolves the pins against PyPI: set SITEVEIL_NETWORK_TESTS=1 (needs network)",
)
def test_the_pypi_hosted_pins_resolve_to_exactly_themselves(tmp_path: Path) -> None:
    """pip's resolver, given the PyPI-hosted pins, adds nothing and changes nothing (the TensorRT
    sdist and its libs wheel come from NVIDIA's index and are left out)."""
    pins = _pins()
    nvidia_index = {"tensorrt-cu12", "tensorrt-cu12-libs"}
    req = tmp_path / "pypi.txt"
    req.write_text("".join(f"{n}=={v}\n" for n, v in pins.items() if n not in nvidia_index))
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
         "--only-binary=:all:", "--python-version", "3.11", "--platform",
         "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64", "--platform",
         "manylinux2014_x86_64", "--target", str(tmp_path / "t"), "--report", str(report),
         "-q", "-r", str(req)],
        check=True, timeout=600,
    )  # fmt: skip
    resolved = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert resolved == {n: v for n, v in pins.items() if n not in nvidia_index}
