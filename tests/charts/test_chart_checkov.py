"""checkov (offline) over the rendered chart passes; every skipped check is justified in the chart.

checkov knows core kinds only, so each InferenceService's predictor is also projected into a Pod
(what Knative will run) and checked with the same rules.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.chart_support import (
    CHART_DIR,
    PROFILES,
    REPO_ROOT,
    Obj,
    of_kind,
    predictor_pod,
    render,
)

SKIP_ANNOTATION = re.compile(r"^checkov\.io/skip\d+$")
SKIP_VALUE = re.compile(r"^(CKV2?_K8S_\d+)=(.{40,})$")


def checkov_binary() -> Path:
    return Path(os.environ.get("SITEVEIL_CHECKOV", REPO_ROOT / ".venv-checkov" / "bin" / "checkov"))


def run_checkov(directory: Path) -> dict[str, Any]:
    binary = checkov_binary()
    if not binary.is_file():
        pytest.skip(
            f"checkov not found at {binary}: run `make checkov-venv` (or set SITEVEIL_CHECKOV)"
        )
    result = subprocess.run(
        [str(binary), "-d", str(directory), "--framework", "kubernetes", "--skip-download",
         "--output", "json", "--soft-fail"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def write_for_checkov(directory: Path, name: str, objs: list[Obj]) -> None:
    pods = [predictor_pod(isvc) for isvc in of_kind(objs, "InferenceService")]
    (directory / f"{name}.yaml").write_text(yaml.safe_dump_all(objs, sort_keys=False))
    (directory / f"{name}-inference-pods.yaml").write_text(
        yaml.safe_dump_all(pods, sort_keys=False)
    )


@pytest.fixture(scope="module")
def report(
    tmp_path_factory: pytest.TempPathFactory, rendered: Callable[[str], list[Obj]]
) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("rendered")
    for profile in PROFILES:
        write_for_checkov(directory, profile, rendered(profile))
    return run_checkov(directory)


def _ids(checks: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in checks)


def test_checkov_passes_over_every_profile(report: dict[str, Any]) -> None:
    assert _ids(report["results"]["failed_checks"]) == []
    assert report["summary"]["passed"] > 100
    resources = {c["resource"] for c in report["results"]["passed_checks"]}
    assert "Pod.siteveil.siteveil-predictor" in resources, "the inference pod itself is checked"
    assert "Pod.siteveil.siteveil-shadow-predictor" in resources


def test_every_skipped_check_carries_its_reason(report: dict[str, Any]) -> None:
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the chart declares skips; checkov must report them"
    for check in skipped:
        comment = check["check_result"].get("suppress_comment", "")
        assert len(comment) >= 40, f"{check['check_id']} on {check['resource']}: {comment!r}"


def test_skip_annotations_in_the_chart_are_well_formed_and_used(report: dict[str, Any]) -> None:
    declared: set[str] = set()
    for template in sorted((CHART_DIR / "templates").glob("*.yaml")):
        for line in template.read_text().splitlines():
            key, _, value = line.strip().partition(": ")
            if SKIP_ANNOTATION.match(key):
                match = SKIP_VALUE.match(value)
                assert match, f"{template.name}: {line.strip()!r} (want CKV_K8S_n=<reason>)"
                declared.add(match.group(1))
    used = {c["check_id"] for c in report["results"]["skipped_checks"]}
    assert declared == used, f"declared but never needed: {declared - used}"


def test_an_insecure_pod_spec_would_be_caught(tmp_path: Path) -> None:
    """The projection is real: a root inference pod fails checkov."""
    objs = render(
        sets={
            "inference.podSecurityContext.runAsUser": "0",
            "inference.podSecurityContext.runAsNonRoot": "false",
        }
    )
    write_for_checkov(tmp_path, "root", objs)
    failed = {c["check_id"] for c in run_checkov(tmp_path)["results"]["failed_checks"]}
    assert "CKV_K8S_40" in failed or "CKV_K8S_23" in failed, failed
