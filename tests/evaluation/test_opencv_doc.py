"""evaluation/opencv_doc.py: OpenCV's sample data from Debian's opencv-doc, pinned by sha256."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation import opencv_doc


def test_the_fetched_members_carry_their_pinned_sha256() -> None:
    # `make test` fetches them into .cache/eval (TEST_DEPS), as `make eval` does
    for name, digest in opencv_doc.MEMBERS.items():
        path = opencv_doc.cached(name)
        assert path is not None, f"{name} is not in {opencv_doc.CACHE_DIR}"
        assert opencv_doc.sha256(path) == digest


def test_a_changed_file_is_not_taken_from_the_cache(tmp_path: Path) -> None:
    (tmp_path / "messi5.jpg").write_bytes(b"not the photograph")
    assert opencv_doc.cached("messi5.jpg", tmp_path) is None


def test_only_pinned_members_can_be_fetched(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not pinned: lena.jpg"):
        opencv_doc.fetch(["lena.jpg"], tmp_path)
