"""`python -m evaluation`: what it refuses before it makes a scene or starts a stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.__main__ import main


def test_an_unknown_model_is_named_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--model-sets", "no_such_model", "--output", str(tmp_path / "out")])
    assert code == 1
    assert "no model no_such_model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_nothing_to_evaluate_and_bad_model_sets_are_usage_errors() -> None:
    with pytest.raises(SystemExit) as nothing:
        main(["--frames", "0", "--person-free", "0"])
    assert nothing.value.code == 2
    with pytest.raises(SystemExit) as repeated:
        main(["--model-sets", "person_segmenter,person_segmenter"])
    assert repeated.value.code == 2


def test_a_broken_annotation_file_is_an_error_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations = tmp_path / "a.json"
    annotations.write_text("{not json")
    assert main(["--scenes", str(annotations), "--output", str(tmp_path / "out")]) == 1
    assert "cannot read the annotations" in capsys.readouterr().err
