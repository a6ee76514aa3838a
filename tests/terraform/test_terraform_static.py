"""`terraform fmt`, `validate` and `test` over every module and example, offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.terraform.terraform_support import EXAMPLES, MODULES, TERRAFORM_DIR, Terraform

ROOTS = [f"modules/{m}" for m in MODULES] + [f"examples/{e}" for e in EXAMPLES]


def test_every_file_is_formatted(tf: Terraform) -> None:
    result = tf.run(TERRAFORM_DIR, "fmt", "-check", "-recursive", "-diff", "-no-color", check=False)
    assert result.returncode == 0, f"terraform fmt would change these files:\n{result.stdout}"


@pytest.mark.parametrize("root", ROOTS)
def test_validates(tf: Terraform, initialized: Callable[[str], Path], root: str) -> None:
    result = tf.run(initialized(root), "validate", "-json", "-no-color", check=False)
    report = json.loads(result.stdout)
    problems = [
        f"{d['severity']}: {d['summary']} ({d.get('range', {}).get('filename', '?')}): "
        f"{d.get('detail', '')}"
        for d in report["diagnostics"]
    ]
    assert report["valid"], "\n".join(problems)
    assert not problems, "validate passed with warnings (deprecated arguments?):\n" + "\n".join(
        problems
    )


def test_terraform_test_suite_passes(tf: Terraform, initialized: Callable[[str], Path]) -> None:
    """The `*.tftest.hcl` runs: the complete example plans and applies against a mocked provider
    with chart values for every key, and each input validation refuses the unsafe value it is
    there for (an `expect_failures` run fails when the validation lets the value through)."""
    folder = initialized("examples/complete")
    result = tf.run(folder, "test", "-no-color", check=False, timeout=600)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    assert " 0 failed" in result.stdout
    passed = [line for line in result.stdout.splitlines() if line.strip().endswith("... pass")]
    assert len(passed) >= 12, result.stdout
