"""KServe-compatible flags become one validated Settings object; bad flags fail at start-up."""

from __future__ import annotations

import pytest

from transformer.config import parse_settings
from transformer.server import gunicorn_options

BASE = ["--model_name=person_segmenter", "--predictor_host=localhost:8085"]


def test_kserve_flags() -> None:
    s = parse_settings([*BASE, "--predictor_protocol=grpc-v2", "--http_port=9090", "--workers=3"])
    assert (s.model_name, s.predictor_host, s.predictor_protocol) == (
        "person_segmenter",
        "localhost:8085",
        "grpc-v2",
    )
    assert (s.http_port, s.workers, s.http_host) == (9090, 3, "127.0.0.1")


def test_our_flags() -> None:
    s = parse_settings(
        [
            *BASE,
            "--anonymization_mode=pixelate",
            "--delete_original",
            "--fill_color=10,20,30",
            "--mask_dilation_px=4",
            "--output_format=png",
            "--results_bucket=r",
            "--predictor_timeout=7.5",
        ]
    )
    assert (s.anonymization_mode, s.delete_original, s.fill_color) == (
        "pixelate",
        True,
        (10, 20, 30),
    )
    assert (s.mask_dilation_px, s.output_format, s.results_bucket) == (4, "png", "r")
    assert s.predictor_timeout == 7.5


@pytest.mark.parametrize(
    "flags",
    [
        [],
        ["--model_name=m"],
        [*BASE, "--predictor_protocol=rest"],
        [*BASE, "--mask_threshold=1.5"],
        [*BASE, "--fill_color=300,0,0"],
        [*BASE, "--shadow", "--delete_original"],
        [*BASE, "--workers=0"],
        [*BASE, "--upload_buckets=,"],
        [*BASE, "--results_bucket=r", "--upload_buckets=u,r"],
    ],
)
def test_bad_flags_exit_with_usage(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_settings(flags)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_gunicorn_options_follow_settings() -> None:
    options = gunicorn_options(
        parse_settings([*BASE, "--http_host=0.0.0.0", "--workers=4", "--predictor_timeout=20"])
    )
    assert options["bind"] == "0.0.0.0:8080" and options["workers"] == 4
    assert options["timeout"] > 20 and options["control_socket_disable"] is True


def test_several_models_per_image() -> None:
    s = parse_settings(
        [*BASE, "--models=person_segmenter, person_detector,face_detector", "--min_face_px=16"]
    )
    assert s.served_model_names == ("person_segmenter", "person_detector", "face_detector")
    assert (s.min_person_px, s.min_face_px, s.max_detector_tiles) == (64, 16, 400)
    assert parse_settings(BASE).served_model_names == ("person_segmenter",)


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--models=face_detector", "--model_name must be one of --models"),
        ("--models=person_segmenter,person_segmenter", "names a model twice"),
        ("--models=,", "model names"),
        ("--min_person_px=0", "--min_person_px"),
        ("--face_box_margin=2", "--face_box_margin"),
    ],
)
def test_bad_model_lists_fail_at_start(
    flag: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_settings([*BASE, flag])
    assert message in capsys.readouterr().err


def test_upload_buckets_are_a_comma_list() -> None:
    s = parse_settings([*BASE, "--upload_buckets=a, b"])
    assert s.upload_buckets == ("a", "b")
    assert parse_settings(BASE).upload_buckets == ()
