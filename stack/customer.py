"""The demo's customer: uploads files through the upload API with the `siteveil` CLI, as a
customer would (POST /v1/batches → presigned PUTs → polling GET /v1/batches/{id} → downloads
through the API's presigned links), then reads each image's state from the API.

The CLI runs as its own process with only the API's URL and a token: no AWS credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from siteveil_cli.client import ApiClient, ApiError
from siteveil_cli.main import EXIT_INCOMPLETE, EXIT_OK, RESULTS_FILE
from stack.errors import StackError


@dataclass(frozen=True, slots=True)
class Uploaded:
    """One file after `siteveil upload --batch --out`: the CLI's report row and the API's state."""

    path: Path
    image_id: str
    status: str  # the API's: "done" | "failed" | "pending"
    reason: str | None
    anonymized: Path | None  # what the CLI downloaded
    mask_url: str | None = None
    person_fraction: float | None = None
    latency_ms: float | None = None  # upload slot created → image processed (the API's clocks)


def cli_command(
    python: Path, files: Sequence[Path], out: Path, *, timeout_s: float, poll_s: float
) -> list[str]:
    """`siteveil upload FILE… --batch --out DIR` (the console script's module)."""
    return [
        str(python),
        "-m",
        "siteveil_cli",
        "upload",
        *map(str, files),
        "--batch",
        "--out",
        str(out),
        "--timeout",
        f"{timeout_s:g}",
        "--poll",
        f"{poll_s:g}",
    ]


def cli_env(base: Mapping[str, str], api_url: str, token: str) -> dict[str, str]:
    """What a customer has: the API's URL and a token. No AWS credentials, no API settings."""
    env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "SITEVEIL_"))}
    env.update({"SITEVEIL_API_URL": api_url, "SITEVEIL_TOKEN": token})
    return env


def run_cli(
    command: Sequence[str], env: Mapping[str, str], *, cwd: Path, log_path: Path, timeout_s: float
) -> None:
    """Run the CLI: its report lines go to log_path, its progress and summary to our stderr.

    Exit 1 (some image failed or is still pending) is an answer, not an error; anything else
    but 0 means the CLI could not do its job.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        try:
            done = subprocess.run(
                list(command),
                env=dict(env),
                cwd=cwd,
                stdout=log,
                stdin=subprocess.DEVNULL,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"the siteveil CLI did not finish within {timeout_s:.0f} s") from exc
    if done.returncode not in (EXIT_OK, EXIT_INCOMPLETE):
        raise StackError(
            f"the siteveil CLI failed (exit {done.returncode}; its message is "
            f"above, its report in {log_path})"
        )


def _latency_ms(image: Mapping[str, Any]) -> float | None:
    if not image.get("processed_at"):
        return None
    created = datetime.fromisoformat(image["created_at"])
    processed = datetime.fromisoformat(image["processed_at"])
    return max(0.0, (processed - created).total_seconds() * 1000)


def collect_results(out: Path, client: ApiClient) -> dict[Path, Uploaded]:
    """The CLI's report (`<out>/siteveil-results.json`) joined with its batches' states."""
    try:
        rows = json.loads((out / RESULTS_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise StackError(f"the siteveil CLI wrote no readable {out / RESULTS_FILE}: {exc}") from exc
    states: dict[str, dict[str, Any]] = {}
    try:
        for batch_id in sorted({row["batch_id"] for row in rows if row["batch_id"]}):
            states.update({i["image_id"]: i for i in client.batch(batch_id)["images"]})
    except ApiError as exc:
        raise StackError(f"the upload API did not report the batch: {exc}") from exc
    results = {}
    for row in rows:
        state = states.get(row["image_id"], {})
        results[Path(row["file"])] = Uploaded(
            path=Path(row["file"]),
            image_id=row["image_id"],
            status=row["status"],
            reason=row["reason"],
            anonymized=Path(row["output"]) if row["output"] else None,
            mask_url=state.get("mask_url"),
            person_fraction=state.get("person_fraction"),
            latency_ms=_latency_ms(state) if state else None,
        )
    return results


def upload_through_api(
    files: Sequence[Path],
    *,
    api_url: str,
    token: str,
    out: Path,
    log_path: Path,
    timeout_s: float,
    poll_s: float = 0.25,
    python: Path | None = None,
    cwd: Path,
) -> dict[Path, Uploaded]:
    """Upload the files as one batch with the CLI, wait, download; each file's outcome."""
    command = cli_command(
        python or Path(sys.executable), files, out, timeout_s=timeout_s, poll_s=poll_s
    )
    run_cli(
        command,
        cli_env(os.environ, api_url, token),
        cwd=cwd,
        log_path=log_path,
        timeout_s=timeout_s + 120,
    )
    return collect_results(out, ApiClient(api_url, token=token))
