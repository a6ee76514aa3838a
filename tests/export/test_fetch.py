"""Fetching the demo model: pinned wheel, one verified member, never installed."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from export.errors import ChecksumMismatch, MissingFile
from export.fetch import SELFIE_SEGMENTATION, download_wheel, extract_member, sha256_file


def test_fetched_tflite_has_the_pinned_sha256(demo_tflite: Path) -> None:
    assert sha256_file(demo_tflite) == SELFIE_SEGMENTATION.member_sha256
    assert demo_tflite.read_bytes()[4:8] == b"TFL3"


def test_mediapipe_is_not_installed() -> None:
    assert importlib.util.find_spec("mediapipe") is None


def test_wrong_member_checksum_is_refused(export_cache: Path, tmp_path: Path) -> None:
    wheel = download_wheel(SELFIE_SEGMENTATION, export_cache)
    spec = dataclasses.replace(SELFIE_SEGMENTATION, member_sha256="0" * 64)
    with pytest.raises(ChecksumMismatch, match="expected 0000"):
        extract_member(spec, wheel, tmp_path / "model.tflite")
    assert not (tmp_path / "model.tflite").exists()


def test_missing_member_is_a_clear_error(export_cache: Path, tmp_path: Path) -> None:
    wheel = download_wheel(SELFIE_SEGMENTATION, export_cache)
    spec = dataclasses.replace(SELFIE_SEGMENTATION, member="mediapipe/no/such.tflite")
    with pytest.raises(MissingFile, match="no member mediapipe/no/such.tflite"):
        extract_member(spec, wheel, tmp_path / "model.tflite")


def test_tampered_wheel_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / SELFIE_SEGMENTATION.wheel_filename
    fake.write_bytes(b"not the wheel")
    with pytest.raises(ChecksumMismatch):
        download_wheel(SELFIE_SEGMENTATION, tmp_path)
