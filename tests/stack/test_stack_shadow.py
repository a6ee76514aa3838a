"""Shadow candidates on the local stack: which directories are accepted, the repository Triton
serves, the shadow transformer's flags, and the candidates made from the demo model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stack.candidates import DIM_FACTOR, make_candidate
from stack.config import StackConfig
from stack.errors import StackError
from stack.lifecycle import transformer_command
from stack.shadow import candidates, combined_repository, shadow_config


def model_dir(root: Path, name: str) -> Path:
    path = root / name
    (path / "configs").mkdir(parents=True)
    (path / "1").mkdir()
    (path / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    (path / "1" / "model.onnx").write_bytes(b"onnx")
    config = (
        f'name: "{name}"\nparameters {{\n  key: "siteveil.scale"\n  value {{\n'
        '    string_value: "0.00392156862745098"\n  }\n}\n'
    )
    (path / "config.pbtxt").write_text(config)
    (path / "configs" / "cpu.pbtxt").write_text(config)
    return path


@pytest.fixture
def live_repo(tmp_path: Path) -> Path:
    model_dir(tmp_path / "repo", "person_segmenter")
    return tmp_path / "repo"


def test_a_candidate_named_like_the_live_model_is_refused(live_repo: Path, tmp_path: Path) -> None:
    other = model_dir(tmp_path / "elsewhere", "person_segmenter")
    config = StackConfig(model_repository=live_repo, shadows=(other,))
    with pytest.raises(StackError, match="named like the live model"):
        candidates(config)


def test_a_directory_that_is_no_model_is_refused(live_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(StackError, match="no config.pbtxt"):
        candidates(StackConfig(model_repository=live_repo, shadows=(tmp_path / "empty",)))


def test_shadows_need_the_originals(live_repo: Path, tmp_path: Path) -> None:
    candidate = model_dir(tmp_path / "c", "cand")
    config = StackConfig(
        model_repository=live_repo, shadows=(candidate,), transformer_args=("--delete_original",)
    )
    with pytest.raises(StackError, match="must not --delete_original"):
        candidates(config)


def test_triton_serves_the_live_models_and_the_candidates(live_repo: Path, tmp_path: Path) -> None:
    candidate = model_dir(tmp_path / "c", "cand")
    config = StackConfig(
        state_dir=tmp_path / "state", model_repository=live_repo, shadows=(candidate,)
    )
    root = combined_repository(config, candidates(config))
    assert sorted(p.name for p in root.iterdir()) == ["cand", "person_segmenter"]
    assert (root / "cand" / "config.pbtxt").read_text() == (candidate / "config.pbtxt").read_text()


def test_the_shadow_transformer_runs_the_candidate_in_place_of_the_live_model(
    live_repo: Path, tmp_path: Path
) -> None:
    candidate = model_dir(tmp_path / "c", "cand")
    config = StackConfig(
        model_repository=live_repo,
        shadows=(candidate,),
        models=("person_segmenter", "face_detector"),
        transformer_args=("--anonymization_mode=fill",),
    )
    [found] = candidates(config)
    argv = transformer_command(shadow_config(config, found), "127.0.0.1:8000", 9999)
    assert "--model_name=cand" in argv
    assert "--models=cand,face_detector" in argv
    assert argv[-2:] == ["--anonymization_mode=fill", "--shadow"]
    assert f"--workers={config.shadow_workers}" in argv


def test_candidates_made_from_a_model(live_repo: Path, tmp_path: Path) -> None:
    source = live_repo / "person_segmenter"
    same = make_candidate(source, tmp_path / "out", "same", "identical")
    assert (same / "1" / "model.onnx").read_bytes() == b"onnx"
    assert 'name: "same"' in (same / "configs" / "cpu.pbtxt").read_text()
    dim = make_candidate(source, tmp_path / "out", "dim", "dim")
    scale = re.search(r'string_value: "([^"]+)"', (dim / "configs" / "cpu.pbtxt").read_text())
    assert scale is not None and float(scale[1]) == pytest.approx(1 / 255 / DIM_FACTOR)
    fails = make_candidate(source, tmp_path / "out", "fails", "edge-fails")
    code = (fails / "1" / "model.py").read_text()
    assert "white top edge" in code
    compile(code, "model.py", "exec")  # the appended subclass is valid Python
    with pytest.raises(ValueError, match="unknown candidate kind"):
        make_candidate(source, tmp_path / "out", "x", "nope")  # type: ignore[arg-type]
