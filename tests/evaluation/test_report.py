"""The report: figures per bin, goals, CPU per added model, its JSON schema, table and plot."""

from __future__ import annotations

import json

import jsonschema
import pytest

from evaluation.report import REPORT_SCHEMA, build, plot, table
from evaluation.runner import FrameScore, ModelSetRun, PersonScore

SETTINGS = {
    "seed": 1,
    "frames_per_resolution": 1,
    "person_free": 1,
    "people_per_frame": 3,
    "resolutions": ["1080p", "4k"],
    "model_sets": [["seg"], ["seg", "person"]],
}


def person(
    resolution: str, height: int, hidden: bool, coverage: float, drawn: bool = False
) -> PersonScore:
    bounds = next(
        b for b in ((40, 63), (64, 95), (96, 159), (160, 319), (320, 800)) if b[0] <= height <= b[1]
    )
    kept = 0.01 if hidden else 0.9
    return PersonScore(
        frame=f"{resolution}-people-000",
        resolution=resolution,
        source="astronaut",
        height=height,
        height_bin=f"{bounds[0]}-{bounds[1]}",
        face_px=(height // 5, height // 5),
        grey=False,
        mirrored=False,
        gain=1.0,
        face_correlation=kept,
        face_detail_kept=kept,
        face_unrecognisable=hidden,
        body_coverage=coverage,
        drawn=drawn,
    )


def run(models: tuple[str, ...], small_hidden: bool, cpu: dict[str, float]) -> ModelSetRun:
    people = []
    for resolution in ("1080p", "4k"):
        people += [
            person(resolution, 50, small_hidden, 1.0 if small_hidden else 0.0),
            person(resolution, 70, True, 0.8),
            person(resolution, 500, True, 1.0),
        ]
    return ModelSetRun(
        models=models,
        people=people,
        frames=[
            FrameScore("1080p-people-000", "1080p", 3, 0.05, 0.5),
            FrameScore("1080p-empty-000", "1080p", 0, 0.0, 0.01),
        ],
        cpu_seconds=cpu,
        idle_cpu_seconds_per_s={"transformer": 0.0, "triton": 0.1},
        wall_s=10.0,
        images=3,
        served_models=[{"name": m, "version": "1"} for m in models],
    )


@pytest.fixture
def report() -> dict:
    runs = [
        run(("seg",), small_hidden=False, cpu={"transformer": 3.0, "triton": 3.0}),
        run(("seg", "person"), small_hidden=True, cpu={"transformer": 4.5, "triton": 9.0}),
    ]
    return build(runs, SETTINGS)


def test_the_report_matches_its_schema_and_survives_json(report: dict) -> None:
    jsonschema.validate(json.loads(json.dumps(report)), REPORT_SCHEMA)


def test_a_report_without_required_parts_is_refused_by_the_schema(report: dict) -> None:
    broken = json.loads(json.dumps(report))
    del broken["model_sets"][0]["bins"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, REPORT_SCHEMA)
    broken = json.loads(json.dumps(report))
    broken["model_sets"][0]["bins"][0]["face_unrecognisable_share"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, REPORT_SCHEMA)


def test_bins_count_people_and_shares(report: dict) -> None:
    rows = {(r["resolution"], r["height_bin"]): r for r in report["model_sets"][0]["bins"]}
    small = rows[("1080p", "40-63")]
    assert small["people"] == 1 and small["face_unrecognisable_share"] == 0.0
    assert rows[("4k", "64-95")]["mean_body_coverage"] == pytest.approx(0.8)
    assert rows[("4k", "96-159")]["people"] == 0
    assert rows[("4k", "96-159")]["face_unrecognisable_share"] is None


def test_goals_pass_only_when_every_measured_goal_is_met(report: dict) -> None:
    first, second = report["model_sets"]
    verdicts = {(g["goal"], g["resolution"]): g["passed"] for g in first["goals"]}
    assert verdicts[("faces unrecognisable, people 40-63 px", "1080p")] is False
    assert verdicts[("faces unrecognisable, people >= 64 px", "4k")] is True
    assert verdicts[("masked share of person-free frames", "all")] is True
    assert first["passed"] is False
    assert second["passed"] is True
    assert report["passed"] is False


def test_a_goal_with_nobody_to_measure_is_not_a_pass() -> None:
    empty = ModelSetRun(
        models=("seg",), images=1, wall_s=1.0, cpu_seconds={"transformer": 1.0, "triton": 1.0}
    )
    report = build([empty], SETTINGS)
    goals = report["model_sets"][0]["goals"]
    assert all(g["passed"] is None for g in goals)
    assert report["passed"] is False


def test_the_extra_cpu_of_each_added_model(report: dict) -> None:
    [step] = report["cpu_added_per_model"]
    assert step["added"] == ["person"]
    extra = step["extra_cpu_s_per_image"]
    # 3 images; Triton idles at 0.1 CPU-s/s over 10 s: (9 - 1) / 3 - (3 - 1) / 3 = 2.
    assert extra["triton"] == pytest.approx(2.0)
    assert extra["transformer"] == pytest.approx(0.5)


def test_table_and_plot(report: dict, tmp_path) -> None:
    text = table(report)
    assert "models: seg + person" in text
    assert "FAIL faces unrecognisable, people 40-63 px (1080p)" in text
    assert "adding person: CPU per image" in text
    path = tmp_path / "recall.png"
    plot(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_drawn_workers_are_reported_apart_and_do_not_count_in_the_goals() -> None:
    people = [
        person(resolution, height, True, 1.0)
        for resolution in ("1080p", "4k")
        for height in (50, 70)
    ] + [person("1080p", 50, False, 0.0, drawn=True), person("4k", 80, False, 0.0, drawn=True)]
    frames = [FrameScore("1080p-empty-000", "1080p", 0, 0.0, 0.0)]
    report = build(
        [ModelSetRun(models=("seg",), people=people, frames=frames, images=1, wall_s=1.0,
                     cpu_seconds={"transformer": 1.0, "triton": 1.0})],
        SETTINGS,
    )  # fmt: skip
    (ms,) = report["model_sets"]
    assert ms["passed"] is True
    assert sum(r["people"] for r in ms["bins"]) == 4
    drawn = {(r["resolution"], r["height_bin"]): r for r in ms["drawn_bins"] if r["people"]}
    assert drawn[("1080p", "40-63")]["face_unrecognisable_share"] == 0.0
    assert drawn[("4k", "64-95")]["people"] == 1
    assert "drawn workers (a stress case, not counted in the goals)" in table(report)
    jsonschema.validate(json.loads(json.dumps(report)), REPORT_SCHEMA)
