"""`python -m stack up|status|down` as `make up/status/down` run it: real background processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from stack.config import REPO_ROOT
from stack.lifecycle import COMPONENTS, StackState

MODEL = REPO_ROOT / "model_repository" / "person_segmenter" / "1" / "model.onnx"


def cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", "--state-dir", str(state_dir), *args],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT, check=False)


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


@pytest.mark.e2e
def test_up_status_second_up_crash_and_down(triton_venv: Path, tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.skip(f"{MODEL} is missing: run `make model`")
    state_dir = tmp_path / "state"
    started = cli(state_dir, "up")
    try:
        assert started.returncode == 0, started.stderr
        state = StackState.model_validate_json((state_dir / "stack.json").read_text())
        assert state.transformer_url in started.stdout and state.aws_endpoint in started.stdout
        assert requests.get(f"{state.transformer_url}/v2/health/ready", timeout=5).ok
        assert requests.get(f"http://{state.triton_http}/v2/health/ready", timeout=5).ok
        assert set(state.pids) == set(COMPONENTS)

        status = cli(state_dir, "status")
        assert status.returncode == 0
        assert all(f"running, pid {state.pids[n]}" in status.stdout for n in COMPONENTS)

        again = cli(state_dir, "up")
        assert "already running" in again.stderr
        assert StackState.model_validate_json((state_dir / "stack.json").read_text()) == state

        # A crash: the transformer's Gunicorn master dies hard and leaves its workers behind.
        master = state.pids["transformer"]
        workers = [p for p in group_members(master) if p != master]
        assert workers, "Gunicorn workers run in the transformer's process group"
        os.kill(master, signal.SIGKILL)
        time.sleep(0.5)
        assert "transformer  -" in cli(state_dir, "status").stdout
    finally:
        stopped = cli(state_dir, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert "transformer (leftovers" in stopped.stdout
    for pid in state.pids.values():
        assert group_members(pid) == [], f"process group {pid} survived `down`"
    assert not (state_dir / "stack.json").exists()
    assert cli(state_dir, "down").stdout.strip() == "nothing was running"
