"""`python -m evaluation` end to end: a few small frames through the real stack, a sane report."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from evaluation.__main__ import main
from evaluation.report import REPORT_SCHEMA
from evaluation.scenes import scenes
from tests.e2e.conftest import require_stack_tools

pytestmark = pytest.mark.e2e
ARGS = ["--resolutions", "540p", "--frames", "2", "--person-free", "1", "--people-per-frame", "4"]
SEED = 11


def test_the_eval_runs_the_stack_and_reports_every_person(tmp_path: Path) -> None:
    require_stack_tools()
    output = tmp_path / "out"
    code = main(
        [*ARGS, "--seed", str(SEED), "--output", str(output), "--state-dir", str(tmp_path / "st")]
    )
    assert code == 0
    report = json.loads((output / "report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    assert (output / "recall.png").read_bytes()[:4] == b"\x89PNG"

    generated = list(
        scenes(
            seed=SEED,
            frames_per_resolution=2,
            person_free=1,
            resolutions=["540p"],
            people_per_frame=4,
        )
    )
    [run] = report["model_sets"]
    assert run["models"] == ["person_segmenter", "person_detector", "face_detector"]  # the default
    assert [(m["name"], m["role"]) for m in run["served_models"]] == [
        ("person_segmenter", "segmenter"),
        ("person_detector", "person_detector"),
        ("face_detector", "face_detector"),
    ]
    assert run["failures"] == []
    people = run["people"]
    assert len(people) == sum(len(s.people) for s in generated)
    in_bins = sum(row["people"] for row in run["bins"] + run["drawn_bins"])
    assert in_bins == len(people)
    drawn = sum(row["people"] for row in run["drawn_bins"])
    assert (
        drawn
        == sum(p["drawn"] for p in people)
        == sum(p["source"].startswith("worker-") for p in people)
    )
    for p in people:
        assert 0.0 <= p["body_coverage"] <= 1.0
        assert p["face_detail_kept"] is not None
        if p["body_coverage"] == 0.0:  # left alone: the face came back as it went in
            assert p["face_detail_kept"] > 0.8 and not p["face_unrecognisable"], p
        if p["body_coverage"] >= 0.99:  # under the mask: blurred beyond recognition
            assert p["face_unrecognisable"], p
    free = run["person_free"]
    assert free["frames"] == 1 and 0.0 <= free["mean_masked_share"] <= 1.0
    cpu = run["cpu"]["cpu_s_per_image"]
    assert cpu["transformer"] > 0 and cpu["triton"] > 0, "the servers did the work"
