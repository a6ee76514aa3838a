"""Fixtures of the Terraform tests: terraform with its provider mirror, a private copy of the tree."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.terraform.terraform_support import Terraform, ToolMissing, copy_terraform_tree


@pytest.fixture(scope="session")
def tf(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    try:
        return Terraform.create(tmp_path_factory.mktemp("terraform-cli"))
    except ToolMissing as missing:
        pytest.skip(f"SKIPPED Terraform tests: {missing}")


@pytest.fixture(scope="session")
def tf_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_terraform_tree(tmp_path_factory.mktemp("terraform-tree"))


@pytest.fixture(scope="session")
def initialized(tf: Terraform, tf_tree: Path) -> Iterator[Callable[[str], Path]]:
    """`initialized("modules/storage")` → that folder of the private copy, `terraform init`-ed once."""
    done: dict[str, Path] = {}

    def init(relative: str) -> Path:
        if relative not in done:
            folder = tf_tree / relative
            tf.init(folder)
            done[relative] = folder
        return done[relative]

    yield init
