"""`python -m stack up|status|down` as `make up/status/down` run it: real background processes."""

from __future__ import annotations

import os
import re
import shlex
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
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        check=False,
    )


def printed_command(stdout: str, variable: str) -> list[str]:
    """The command inside `export VARIABLE=$(…)` that `up` printed."""
    match = re.search(rf"^  export {variable}=\$\((.+)\)$", stdout, re.MULTILINE)
    assert match, f"`up` printed no {variable} command:\n{stdout}"
    return shlex.split(match[1])


def minted(command: list[str]) -> str:
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SITEVEIL_"))},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def upload_slot(api_url: str, headers: dict[str, str]) -> requests.Response:
    body = {"content_type": "image/png", "size": 10}
    return requests.post(f"{api_url}/v1/uploads", json=body, headers=headers, timeout=30)


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
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

        # The upload API, and the credentials `up` tells the user how to mint, really work.
        assert state.api_url in started.stdout
        assert upload_slot(state.api_url, {}).status_code == 401
        token = minted(printed_command(started.stdout, "SITEVEIL_TOKEN"))
        slot = upload_slot(state.api_url, {"Authorization": f"Bearer {token}"})
        assert slot.status_code == 201, slot.text
        assert slot.json()["key"].startswith("incoming/acme/")
        api_key = minted(printed_command(started.stdout, "SITEVEIL_API_KEY"))
        assert upload_slot(state.api_url, {"X-API-Key": api_key}).status_code == 201
        assert "==> api:" in cli(state_dir, "logs").stdout

        status = cli(state_dir, "status")
        assert status.returncode == 0
        assert all(f"running, pid {state.pids[n]}" in status.stdout for n in COMPONENTS)

        again = cli(state_dir, "up")
        assert "already running" in again.stderr
        assert StackState.model_validate_json((state_dir / "stack.json").read_text()) == state

        # One component at a time (issue 14): a new relay process, the rest untouched.
        restarted = cli(state_dir, "restart", "relay", "--kill")
        assert restarted.returncode == 0, restarted.stderr
        after = StackState.model_validate_json((state_dir / "stack.json").read_text())
        assert after.pids["relay"] != state.pids["relay"]
        assert group_members(state.pids["relay"]) == []
        assert {n: p for n, p in after.pids.items() if n != "relay"} == {
            n: p for n, p in state.pids.items() if n != "relay"
        }
        assert f"relay        running, pid {after.pids['relay']}" in cli(state_dir, "status").stdout
        listed = cli(state_dir, "redrive", "--list")
        assert listed.returncode == 0 and listed.stdout == ""  # no dead letters yet
        assert cli(state_dir, "redrive").returncode == 2  # say which, or --all
        state = after

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
