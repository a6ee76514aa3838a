"""The bench harness: its statistics, goals, results check and report; one small real run.

No timing is asserted anywhere (speed is what the bench reports, not what a test checks).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import simplejpeg

from bench import checks, codec_floor, procs, report, stats
from bench.__main__ import main, parser
from bench.frames import distinct, make_frames, variant
from bench.load import Upload, cloudevent
from bench.run import single_model_repository
from transformer.events import objects_created, parse_cloudevent


def _round(**overrides: Any) -> dict[str, Any]:
    figures = stats.round_figures(
        latencies_ms=[100.0, 200.0, 300.0],
        wall_s=1.5,
        cpu_s={"transformer": 0.3, "triton": 0.06, "s3": 0.03},
        peak_rss_bytes=200 * 2**20,
        images=3,
        errors=0,
    )
    figures["anonymized"] = 3
    figures.update(overrides)
    return figures


# --- statistics ---------------------------------------------------------------------------


def test_percentiles_interpolate_like_numpy() -> None:
    latencies = [float(v) for v in range(1, 101)]  # 1..100 ms
    assert stats.percentile_ms(latencies, 50) == pytest.approx(50.5)
    assert stats.percentile_ms(latencies, 99) == pytest.approx(99.01)
    with pytest.raises(ValueError, match="no request succeeded"):
        stats.percentile_ms([], 99)


def test_round_figures_are_per_image_and_count_only_answered_requests() -> None:
    figures = stats.round_figures(
        latencies_ms=[100.0, 300.0],
        wall_s=2.0,
        cpu_s={"transformer": 0.5, "triton": 0.1, "s3": 0.05},
        peak_rss_bytes=3 * 2**20,
        images=5,
        errors=3,
    )
    assert figures["images_per_s"] == pytest.approx(1.0)  # 2 answered in 2 s
    assert figures["cpu_ms_per_image"] == pytest.approx(100.0)  # 0.5 s over 5 images sent
    assert figures["triton_cpu_ms_per_image"] == pytest.approx(20.0)
    assert figures["s3_cpu_ms_per_image"] == pytest.approx(10.0)
    assert figures["peak_rss_mb_per_worker"] == pytest.approx(3.0)
    assert figures["p50_ms"] == pytest.approx(200.0)
    assert (figures["images"], figures["errors"]) == (5, 3)


def test_no_answered_request_leaves_latency_unknown() -> None:
    figures = stats.round_figures(
        latencies_ms=[],
        wall_s=1.0,
        cpu_s={"transformer": 0.1, "triton": 0.0, "s3": 0.0},
        peak_rss_bytes=0,
        images=2,
        errors=2,
    )
    assert figures["p99_ms"] is None and figures["images_per_s"] == 0


def test_summary_takes_medians_over_rounds_and_sums_counts() -> None:
    rounds = [
        _round(cpu_ms_per_image=50.0, images_per_s=20.0, errors=1),
        _round(cpu_ms_per_image=90.0, images_per_s=10.0),
        _round(cpu_ms_per_image=60.0, images_per_s=22.0, anonymized=2),
    ]
    summary = stats.summarize(rounds)
    assert summary["cpu_ms_per_image"] == 60.0
    assert summary["images_per_s"] == 20.0
    assert (summary["images"], summary["anonymized"], summary["errors"]) == (9, 8, 1)
    assert len(summary["rounds"]) == 3


def test_ratios_and_goals_against_the_references_and_the_floor() -> None:
    transformers = {
        stats.SITEVEIL: {"cpu_ms_per_image": 25.0, "images_per_s": 36.0, "p99_ms": 200.0},
        stats.KSERVE_TUNED: {"cpu_ms_per_image": 50.0, "images_per_s": 20.0, "p99_ms": 250.0},
        stats.KSERVE_SHIPPED: {"cpu_ms_per_image": 250.0, "images_per_s": 6.0, "p99_ms": 900.0},
    }
    ratio = stats.ratios(transformers, codec_floor_ms=20.0)
    assert ratio == pytest.approx(
        {
            "cpu_vs_codec_floor": 1.25,
            "cpu_vs_kserve_tuned": 0.5,
            "cpu_vs_kserve_shipped": 0.1,
            "throughput_vs_kserve_tuned": 1.8,
            "p99_vs_kserve_tuned": 0.8,
        }
    )
    met = stats.goals(ratio)
    assert all(g["met"] for g in met.values())  # each exactly at or inside its target
    assert met["throughput_vs_kserve_tuned"] == {
        "value": pytest.approx(1.8),
        "target": 1.5,
        "op": ">=",
        "met": True,
    }
    slower = stats.goals({**ratio, "throughput_vs_kserve_tuned": 1.2, "cpu_vs_codec_floor": 3.0})
    assert slower["throughput_vs_kserve_tuned"]["met"] is False
    assert slower["cpu_vs_codec_floor"]["met"] is False


def test_a_missing_reference_leaves_its_ratios_and_goals_unmeasured() -> None:
    ratio = stats.ratios({stats.SITEVEIL: {"cpu_ms_per_image": 30.0}}, codec_floor_ms=20.0)
    assert ratio["cpu_vs_codec_floor"] == pytest.approx(1.5)
    assert ratio["cpu_vs_kserve_tuned"] is None
    goals = stats.goals(ratio)
    assert goals["cpu_vs_kserve_tuned"]["met"] is None
    assert goals["cpu_vs_codec_floor"]["met"] is True


# --- report -------------------------------------------------------------------------------


SETTINGS = {
    "images": {"1080p": 3, "4k": 3},
    "clients": 4,
    "workers": 2,
    "rounds": 2,
    "mode": "pixelate",
    "models": ["person_segmenter"],
    "kserve_version": "0.x",
}


def _report(not_run: dict[str, str] | None = None, **round_overrides: Any) -> dict[str, Any]:
    by_res = {"1080p": [_round(**round_overrides), _round()], "4k": [_round(), _round()]}
    rounds = {stats.SITEVEIL: by_res, stats.KSERVE_TUNED: by_res}
    return report.build(
        settings=SETTINGS,
        sizes={"1080p": (1920, 1080), "4k": (3840, 2160)},
        floors={"1080p": 17.0, "4k": 70.0},
        rounds=rounds,
        not_run=not_run if not_run is not None else {stats.KSERVE_SHIPPED: "no .venv-kserve"},
    )


def test_report_has_the_contract_shape() -> None:
    built = _report()
    assert built["schema"] == "siteveil.bench/1"
    assert set(built["machine"]) == {"cpus", "cpu_model", "python", "platform"}
    assert built["machine"]["cpus"] >= 1
    assert set(SETTINGS) <= set(built["settings"])
    for res, (w, h) in {"1080p": (1920, 1080), "4k": (3840, 2160)}.items():
        block = built["resolutions"][res]
        assert (block["width"], block["height"]) == (w, h)
        assert block["codec_floor_ms"] > 0
        assert set(block["transformers"]) == {stats.SITEVEIL, stats.KSERVE_TUNED}
        t = block["transformers"][stats.SITEVEIL]
        assert set(stats.MEDIAN_FIGURES) | {"images", "anonymized", "errors", "rounds"} <= set(t)
        assert set(block["ratios"]) == {g.name for g in stats.GOALS}
        assert set(block["goals"]) == {g.name for g in stats.GOALS}
        assert block["goals"]["cpu_vs_codec_floor"]["target"] == 1.5
    assert built["not_run"] == {stats.KSERVE_SHIPPED: "no .venv-kserve"}
    json.dumps(built)  # plain JSON all the way down


def test_problems_name_missing_references_and_unanonymized_images() -> None:
    assert report.problems(_report(not_run={})) == []
    found = report.problems(_report(anonymized=1))
    assert any("kserve_shipped did not run: no .venv-kserve" in p for p in found)
    assert any("siteveil 1080p: 2 image(s) not anonymized" in p for p in found)


def test_markdown_table_shows_figures_not_run_and_goals() -> None:
    table = report.markdown(_report())
    assert "| siteveil transformer | 2.00 | 200 |" in table  # 3 images in 1.5 s, p50 200 ms
    assert "| KServe SDK, as shipped | not run: no .venv-kserve |" in table
    assert "| JPEG codec floor (decode + encode q90, one core) | | | | 17.0 |" in table
    # 100 ms of CPU per image against a 17 ms floor: 5.88, missed; the tuned reference is
    # the same transformer here, so 1.0 ≤ 0.5 is missed and p99 1.0 ≤ 1 is met.
    assert "| transformer CPU/img ≤ 1.5 × codec floor | 5.88 | <= 1.5 | **missed** |" in table
    assert "| p99 no worse than tuned KServe | 1.00 | <= 1 | met |" in table
    assert "| transformer CPU/img ≤ 0.1 × as-shipped KServe | – | <= 0.1 | – |" in table


def test_workers_started_while_measured_are_called_out() -> None:
    assert "- note:" not in report.markdown(_report(processes_started=0, settled=True))
    table = report.markdown(_report(processes_started=2, settled=False))
    assert (
        "- note: siteveil transformer: 2 process(es) started during the measured batches,"
        " 1 round(s) not idle before them" in table
    )


def test_a_traceback_as_reason_stays_one_table_cell() -> None:
    trace = "failed: x exited during start-up:\nTraceback (most recent call last):\n  File a|b\nImportError: no kserve\n"
    table = report.markdown(_report(not_run={stats.KSERVE_SHIPPED: trace}))
    (row,) = [line for line in table.splitlines() if line.startswith("| KServe SDK, as shipped")][
        :1
    ]
    assert row == (
        "| KServe SDK, as shipped | not run: failed: x exited during start-up: … "
        "ImportError: no kserve |||||||||"
    )


def test_plot_is_written_as_png(tmp_path: Path) -> None:
    path = tmp_path / "report.png"
    report.plot(_report(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


# --- results check --------------------------------------------------------------------------


def _scene() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    mask = np.zeros((120, 160), bool)
    mask[30:90, 40:100] = True
    return rgb, mask


def _pixelated(rgb: np.ndarray, mask: np.ndarray, cell: int = 10) -> np.ndarray:
    out = rgb.copy()
    for y in range(0, rgb.shape[0], cell):
        for x in range(0, rgb.shape[1], cell):
            block = (slice(y, y + cell), slice(x, x + cell))
            if mask[block].any():
                out[block] = rgb[block].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    return out


def test_a_pixelated_person_passes_the_check() -> None:
    rgb, mask = _scene()
    assert checks.judge(rgb, _pixelated(rgb, mask), mask) is None


def test_an_untouched_person_fails_the_check_even_with_a_mask() -> None:
    rgb, mask = _scene()
    reason = checks.judge(rgb, rgb.copy(), mask)
    assert reason is not None and "barely changed" in reason


def test_an_image_changed_everywhere_alike_fails_the_check() -> None:
    """Noise all over (a re-encode at low quality, say) is not anonymization of the people."""
    rgb, mask = _scene()
    shifted = ((rgb.astype(np.int16) + 40) % 256).astype(np.uint8)
    assert "barely changed" in (checks.judge(rgb, shifted, mask) or "")


def test_an_empty_mask_or_a_wrong_size_fails_the_check() -> None:
    rgb, mask = _scene()
    assert checks.judge(rgb, _pixelated(rgb, mask), np.zeros_like(mask)) == "the mask is empty"
    assert "anonymized image is" in (checks.judge(rgb, rgb[:60], mask) or "")


def test_a_mask_at_another_resolution_is_scaled_to_the_image() -> None:
    rgb, mask = _scene()
    small = mask[::2, ::2]
    inside, outside = checks.masked_change(rgb, _pixelated(rgb, mask), small)
    assert inside > 10 and outside == 0


def test_results_in_s3_are_checked_present_fresh_and_anonymized() -> None:
    """The check reads what a transformer wrote (moto's in-process S3 stands in for moto_server)."""
    import boto3
    from moto import mock_aws

    rgb, mask = _scene()
    original = simplejpeg.encode_jpeg(rgb, quality=95, colorspace="RGB")
    anonymized = simplejpeg.encode_jpeg(_pixelated(rgb, mask), quality=90, colorspace="RGB")
    mask_png = cv2.imencode(".png", mask.astype(np.uint8) * 255)[1].tobytes()
    before = datetime.now(UTC)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="res")
        files = {"anonymized.jpg": anonymized, "mask.png": mask_png, "result.json": b"{}"}
        for name, body in files.items():
            s3.put_object(Bucket="res", Key=f"results/t/good/{name}", Body=body)
            if name != "mask.png":
                s3.put_object(Bucket="res", Key=f"results/t/no-mask/{name}", Body=body)
        found = checks.check_all(
            s3, "res", "t", [("good", original), ("no-mask", original)], not_before=before
        )
        assert found == [
            checks.Check("good", True),
            checks.Check("no-mask", False, "missing mask.png"),
        ]
        later = datetime.now(UTC) + timedelta(seconds=5)
        (stale,) = checks.check_all(s3, "res", "t", [("good", original)], not_before=later)
        assert not stale.anonymized and "from an earlier run" in (stale.reason or "")
        assert checks.clear(s3, "res") == 5
        assert "Contents" not in s3.list_objects_v2(Bucket="res")


# --- frames, events, codec floor, CLI ------------------------------------------------------


def test_frames_are_distinct_full_size_jpegs() -> None:
    frames = make_frames("1080p", 2, seed=5)
    assert [f.image_id for f in frames] == ["1080p-0000", "1080p-0001"]
    assert distinct(frames)
    for frame in frames:
        assert simplejpeg.decode_jpeg_header(frame.data)[:2] == (1080, 1920)
    assert make_frames("4k", 0) == []
    with pytest.raises(ValueError, match="unknown resolution"):
        make_frames("8k", 1)


def test_a_variant_has_the_scene_size_and_other_pixels() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    rng = np.random.default_rng(2)
    a, b = variant(rgb, 1, rng), variant(rgb, 2, rng)
    assert a.shape == b.shape == rgb.shape and a.dtype == np.uint8
    assert not np.array_equal(a, rgb) and not np.array_equal(a, b)


def test_the_event_is_one_the_transformer_accepts() -> None:
    upload = Upload(
        "1080p-0003", "siteveil-uploads", "incoming/bench/2026/01/15/1080p-0003.jpg", "abc", 123
    )
    headers, body = cloudevent(upload)
    assert headers["ce-type"] == "dev.knative.eventing.aws-sqs"
    event = parse_cloudevent(headers, body)
    (obj,) = objects_created(event)
    assert (obj.bucket, obj.key, obj.etag, obj.size) == (upload.bucket, upload.key, "abc", 123)
    assert obj.incoming.tenant == "bench" and obj.incoming.image_id == "1080p-0003"
    assert cloudevent(upload)[0]["ce-id"] != headers["ce-id"]  # every request its own event


def test_codec_floor_is_a_decode_and_an_encode_at_quality_90() -> None:
    rgb = np.random.default_rng(4).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    data = simplejpeg.encode_jpeg(rgb, quality=95, colorspace="RGB")
    again = codec_floor.decode_encode(data)
    assert simplejpeg.decode_jpeg_header(again)[:2] == (64, 96)
    assert codec_floor.floor_ms([data, data]) > 0
    with pytest.raises(ValueError):
        codec_floor.floor_ms([])


def test_cli_rejects_unknown_transformers_and_bad_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parser().parse_args(["--only", "siteveil,kserve_tuned", "--images-4k", "0"])
    assert args.only == ("siteveil", "kserve_tuned") and args.images_4k == 0
    assert parser().parse_args([]).only == stats.TRANSFORMERS
    for bad in (["--only", "kserve"], ["--clients", "0"], ["--images-1080p", "-1"]):
        with pytest.raises(SystemExit):
            parser().parse_args(bad)
    assert "unknown kserve" in capsys.readouterr().err


def test_a_reference_that_cannot_run_is_reported_and_fails_the_bench(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No KServe virtualenv: the report says why the reference did not run, the exit code is 1."""
    out = tmp_path / "out"
    code = main(
        [
            "--only=kserve_tuned",
            "--images-1080p=1",
            "--images-4k=0",
            "--rounds=1",
            f"--kserve-venv={tmp_path / 'no-venv'}",
            f"--output={out}",
        ]
    )
    assert code == 1
    built = json.loads((out / "report.json").read_text())
    assert built["not_run"] == {"kserve_tuned": "no no-venv (build it with `make kserve-venv`)"}
    assert built["resolutions"]["1080p"]["transformers"] == {}
    assert built["resolutions"]["1080p"]["codec_floor_ms"] > 0
    assert "| KServe SDK, tuned | not run: no no-venv" in (out / "report.md").read_text()
    assert "kserve_tuned did not run" in capsys.readouterr().err


def test_the_triton_repository_holds_the_segmenter_alone(tmp_path: Path) -> None:
    source = tmp_path / "repo"
    for model in ("person_segmenter", "face_detector"):
        (source / model).mkdir(parents=True)
        (source / model / "config.pbtxt").write_text(f'name: "{model}"')
    root = single_model_repository(source, tmp_path / "run")
    assert [p.name for p in root.iterdir()] == ["person_segmenter"]
    assert (root / "person_segmenter" / "config.pbtxt").read_text() == 'name: "person_segmenter"'
    with pytest.raises(FileNotFoundError, match="make model"):
        single_model_repository(tmp_path / "empty", tmp_path / "run2")


def test_command_lines_are_the_stacks_and_the_contracts(tmp_path: Path) -> None:
    python = Path("/opt/py/bin/python")
    ours = procs.siteveil_target(
        python, triton_http="127.0.0.1:8000", workers=3, results_bucket="res", uploads_bucket="up"
    )
    assert ours.argv[:3] == (str(python), "-m", "transformer")
    for flag in (
        "--models=person_segmenter",
        "--predictor_host=127.0.0.1:8000",
        "--workers=3",
        "--results_bucket=res",
        "--upload_buckets=up",
        "--anonymization_mode=pixelate",
        f"--http_port={ours.port}",
    ):
        assert flag in ours.argv
    assert ours.url == f"http://127.0.0.1:{ours.port}/"
    venv = tmp_path / "kv"
    ref = procs.kserve_target(
        "tuned", triton_http="127.0.0.1:8000", workers=2, results_bucket="res", venv=venv
    )
    assert ref.argv == (
        str(venv / "bin" / "python"),
        "-m",
        "bench.kserve_reference",
        "--variant",
        "tuned",
        "--http_port",
        str(ref.port),
        "--predictor_host",
        "127.0.0.1:8000",
        "--model_name",
        "person_segmenter",
        "--results_bucket",
        "res",
        "--workers",
        "2",
    )
    assert ref.name == "kserve_tuned"
    assert ref.url.endswith("/v1/models/person_segmenter:predict")


def test_no_images_at_all_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--images-1080p=0", "--images-4k=0"])
    assert "at least one image" in capsys.readouterr().err


# --- one small real run ----------------------------------------------------------------------


@pytest.mark.e2e
def test_bench_runs_our_transformer_and_every_image_comes_back_anonymized(tmp_path: Path) -> None:
    """moto, the real Triton and our transformer under Gunicorn: two 1080p frames, two rounds
    (the second must write its own results: the first's are cleared, and stale ones fail)."""
    from tests.e2e.conftest import require_stack_tools

    require_stack_tools()
    out = tmp_path / "bench-output"
    code = main(
        [
            "--only=siteveil",
            "--images-1080p=2",
            "--images-4k=0",
            "--rounds=2",
            "--clients=2",
            "--workers=1",
            f"--output={out}",
        ]
    )
    assert code == 0
    built = json.loads((out / "report.json").read_text())
    assert list(built["resolutions"]) == ["1080p"]
    block = built["resolutions"]["1080p"]
    ours = block["transformers"]["siteveil"]
    assert (ours["images"], ours["anonymized"], ours["errors"]) == (4, 4, 0)
    assert [r["round"] for r in ours["rounds"]] == [1, 2]
    assert ours["cpu_ms_per_image"] > 0 and ours["triton_cpu_ms_per_image"] > 0
    assert ours["peak_rss_mb_per_worker"] > 10
    assert block["codec_floor_ms"] > 0
    assert built["not_run"] == {}
    assert "| siteveil transformer |" in (out / "report.md").read_text()
    assert (out / "report.png").stat().st_size > 10_000
