"""`python -m transformer` refuses to start when a model it must run has a wrong contract."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.triton import TritonEndpoints, running_triton

REPO = Path(__file__).resolve().parents[2] / "model_repository"


@pytest.fixture(scope="module")
def triton_with_a_liar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonEndpoints]:
    """The demo segmenter, and the same model served as `liar`, claiming to be a face detector."""
    if not (REPO / "person_segmenter" / "1" / "model.onnx").exists():
        pytest.skip("model_repository/person_segmenter/1/model.onnx is missing: run `make model`")
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "person_segmenter", repo / "person_segmenter", symlinks=False)
    liar = repo / "liar"
    shutil.copytree(REPO / "person_segmenter", liar, symlinks=False)
    config = (liar / "configs" / "cpu.pbtxt").read_text()
    config = re.sub(r'name: "person_segmenter"', 'name: "liar"', config)
    config = config.replace(
        'backend: "python"',
        'parameters {\n  key: "siteveil.role"\n  value {\n    string_value: "face_detector"\n'
        '  }\n}\nbackend: "python"',
    )
    (liar / "configs" / "cpu.pbtxt").write_text(config)
    with running_triton(repo) as endpoints:
        yield endpoints


def transformer(host: str, *models: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "transformer",
            "--model_name=person_segmenter",
            f"--models={','.join(models)}",
            f"--predictor_host={host}",
            "--http_port=9",  # never reached: it must refuse before it binds
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_model_with_a_wrong_contract_is_refused_at_start(
    triton_with_a_liar: TritonEndpoints,
) -> None:
    done = transformer(triton_with_a_liar.http, "person_segmenter", "liar")
    assert done.returncode == 2
    assert "refusing to start" in done.stderr
    assert "model 'liar' version 1: parameter siteveil.output_kind='probability'" in done.stderr
