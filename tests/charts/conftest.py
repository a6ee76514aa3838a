"""Fixtures for the chart tests: the helm binary, the real CRDs, rendered value profiles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.charts.chart_support import (
    PROFILES,
    CrdSchemas,
    Obj,
    crds_dir,
    helm_binary,
    load_crds,
    render,
)


@pytest.fixture(scope="session", autouse=True)
def helm() -> Path:
    path = helm_binary()
    if not path.is_file():
        pytest.skip(f"helm not found at {path}: run `make chart-tools` (or set SITEVEIL_HELM)")
    return path


@pytest.fixture(scope="session")
def crds() -> CrdSchemas:
    directory = crds_dir()
    if not directory.is_dir() or not any(directory.glob("*.yaml")):
        pytest.skip(
            f"NO CRDs at {directory}: custom resources are NOT validated. Point "
            "SITEVEIL_CRDS_DIR at a folder holding the real CRDs (see ../shared/crds/SOURCES.tsv)"
        )
    return load_crds(directory)


@pytest.fixture(scope="session")
def rendered() -> Callable[[str], list[Obj]]:
    """Objects rendered for a profile name, computed once per session."""
    cache: dict[str, list[Obj]] = {}

    def get(profile: str) -> list[Obj]:
        if profile not in cache:
            cache[profile] = render(PROFILES[profile])
        return cache[profile]

    return get
