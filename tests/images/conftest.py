"""Fixtures of the image tests: the built images (skipped, saying why, where there are none) and the
real single-machine stack they run against."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stack.config import REPO_ROOT, StackConfig
from stack.lifecycle import StackState, running_stack
from stack.triton import DEFAULT_VENV
from tests.images.images_support import IMAGES, Image, Missing, inspect

MODEL = REPO_ROOT / "model_repository" / "person_segmenter" / "1" / "model.onnx"


@pytest.fixture(scope="session")
def images() -> dict[str, Image]:
    try:
        return {name: inspect(ref) for name, ref in IMAGES.items()}
    except Missing as missing:
        pytest.skip(f"SKIPPED image tests: {missing}")


@pytest.fixture(scope="session")
def stack(
    images: dict[str, Image], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackState]:
    if not MODEL.exists():
        pytest.skip(f"{MODEL} is missing: run `make model`")
    if not (DEFAULT_VENV / "bin" / "python").exists():
        pytest.skip(f"no Triton virtualenv at {DEFAULT_VENV}: run `make triton-venv`")
    with running_stack(StackConfig(state_dir=tmp_path_factory.mktemp("images-stack"))) as state:
        yield state
