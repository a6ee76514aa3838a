"""The faulted soak: uploads through the real local path while every fault of the schedule
fires once; every upload is accounted for exactly (issue 14). The 10 000-image run is the
documented `slow` one (README, "Reliability")."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from stack.soak import SoakOptions, run
from tests.e2e.conftest import require_stack_tools

pytestmark = pytest.mark.e2e

FAULTS = {
    "Triton down longer than the retry budget: dead letters, then redrive",
    "kill -9 a Gunicorn worker mid-request",
    "kill -9 Triton, start it again",
    "SIGTERM the relay, start it again",
    "kill -9 the relay, start it again",
    "deliver 20 finished uploads again",
}


def check(report: dict[str, Any], n: int) -> None:
    assert report["uploads"] == n + 5  # and 5 more during the long Triton outage
    assert report["lost"] == 0, report["problems"]
    assert report["problems"] == []
    assert report["faults_not_fired"] == []
    fired = {f["name"] for f in report["faults"]}
    assert FAULTS <= fired and any(f.startswith("S3 answers 503") for f in fired)
    # every truncated upload failed with its reason; nothing good failed
    assert report["failed"] == report["truncated_uploads_sent"]
    assert report["anonymized"] + report["failed"] + report["dead_lettered"] == n + 5
    # the outage outlived the retry budget: dead letters, seen failed, then redriven
    phase = report["dead_letter_phase"]
    assert phase["uploads"] == phase["api_said_failed"] == phase["redriven"] == 5
    assert all(r.startswith("dead-lettered: retries exhausted") for r in phase["reasons"])
    assert report["ok"] is True


def test_short_soak_every_fault_once_nothing_lost(tmp_path: Path) -> None:
    require_stack_tools()
    options = SoakOptions(
        n=300,
        width=320,
        height=240,
        concurrency=6,
        max_duration_s=840,
        out_dir=tmp_path / "soak-output",
        state_dir=tmp_path / "stack",
    )
    report = run(options)
    check(report, 300)
    assert json.loads((tmp_path / "soak-output" / "report.json").read_text()) == report


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("SITEVEIL_SOAK_10K") != "1",
    reason="the 10 000-image soak takes about an hour on 2 CPU cores: SITEVEIL_SOAK_10K=1 runs it",
)
def test_ten_thousand_image_soak(tmp_path: Path) -> None:
    require_stack_tools()
    options = SoakOptions(
        n=10_000,
        width=640,
        height=480,
        concurrency=8,
        max_duration_s=3 * 3600,
        out_dir=tmp_path / "soak-output",
        state_dir=tmp_path / "stack",
    )
    check(run(options), 10_000)
