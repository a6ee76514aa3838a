"""checkov passes over `terraform/` offline, and every skipped check says why, inline."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.terraform.terraform_support import TERRAFORM_DIR, ToolMissing, checkov_binary

SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(?P<check>[A-Z0-9_]+)(?::(?P<reason>.*))?")


@pytest.fixture(scope="module")
def checkov_report() -> dict:
    try:
        checkov = checkov_binary()
    except ToolMissing as missing:
        pytest.skip(f"SKIPPED checkov: {missing}")
    result = subprocess.run(
        [
            checkov,
            "--skip-download",
            "--framework",
            "terraform",
            "--directory",
            str(TERRAFORM_DIR),
            "--skip-path",
            r"\.terraform",
            "--output",
            "json",
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip(), f"checkov printed no report:\n{result.stderr[-4000:]}"
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_finds_no_failed_check(checkov_report: dict) -> None:
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']}): "
        f"{c['check_name']}"
        for c in checkov_report["results"].get("failed_checks", [])
    ]
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    # It really looked: every module's resources are in the report.
    scanned = {
        c["file_path"].split("/")[2]
        for c in checkov_report["results"]["passed_checks"]
        if c["file_path"].startswith("/modules/")
    }
    assert {"storage", "events", "streaming", "cluster"} <= scanned
    assert summary["passed"] > 200


def test_every_skip_is_justified_inline(checkov_report: dict) -> None:
    """Each skip checkov applied comes from a `#checkov:skip=<id>:<reason>` in that very file
    (checkov reports module-evaluated skips without the comment, so read the source)."""
    skipped = checkov_report["results"].get("skipped_checks", [])
    for check in skipped:
        source = (TERRAFORM_DIR / check["file_path"].lstrip("/")).read_text()
        reasons = [
            (m["reason"] or "").strip()
            for m in SKIP_COMMENT.finditer(source)
            if m["check"] == check["check_id"]
        ]
        assert reasons and all(len(r) >= 30 for r in reasons), (
            f"{check['check_id']} on {check['resource']} is skipped without a reason in "
            f"{check['file_path']}"
        )


def test_every_skip_comment_in_the_sources_has_a_reason() -> None:
    for tf_file in TERRAFORM_DIR.rglob("*.tf"):
        if ".terraform" in tf_file.parts:
            continue
        for number, line in enumerate(tf_file.read_text().splitlines(), start=1):
            match = SKIP_COMMENT.search(line)
            if match:
                reason = (match["reason"] or "").strip()
                assert len(reason) >= 30, f"{tf_file}:{number}: {match['check']} has no reason"
