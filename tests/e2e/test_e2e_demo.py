"""`make demo` as a newcomer runs it (python -m stack.demo): its own stack, its outputs, its exit code."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from stack.config import REPO_ROOT
from tests.e2e.conftest import require_stack_tools
from transformer.results import ResultRecord

pytestmark = pytest.mark.e2e


def demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    require_stack_tools()
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "stack.demo",
            "--output",
            str(tmp_path / "out"),
            "--state-dir",
            str(tmp_path / "state"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=REPO_ROOT,
        check=False,
    )


def test_the_demo_anonymizes_the_samples_and_writes_its_outputs(tmp_path: Path) -> None:
    done = demo(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"results viewer: http://127\.0\.0\.1:\d+/viewer ", done.stdout)
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    assert [r["name"] for r in summary] == ["astronaut", "cameraman", "rocket", "composite"]
    assert all(
        set(r) == {"name", "status", "person_fraction", "latency_ms", "reason"} for r in summary
    )
    assert all(r["status"] == "anonymized" and r["latency_ms"] > 0 for r in summary)
    fractions = {r["name"]: r["person_fraction"] for r in summary}
    assert fractions["astronaut"] > 0.3 and fractions["rocket"] < 0.01
    for row in summary:
        for line in done.stdout.splitlines():
            if line.startswith(row["name"] + " "):
                assert f"{row['person_fraction']:.1%}" in line
                break
        else:
            pytest.fail(f"{row['name']} missing from the printed table")
    batch_ids = set()
    for name, ext in [
        ("astronaut", "jpg"),
        ("cameraman", "png"),
        ("rocket", "jpg"),
        ("composite", "jpg"),
    ]:
        folder = out / name
        assert {p.name for p in folder.iterdir()} == {
            f"original.{ext}",
            f"anonymized.{ext}",
            "mask.png",
            "result.json",
        }
        record = ResultRecord.model_validate_json((folder / "result.json").read_text())
        assert record.status == "anonymized"
        # The upload API chose the key: tenant demo, an id of one batch (<batch>-<nnnn>).
        item = re.fullmatch(
            r"incoming/demo/\d{4}/\d\d/\d\d/([0-9a-f]{32})-\d{4}\.(\w+)", record.source.key
        )
        assert item and record.image_id in record.source.key and item[2] == ext, record.source
        batch_ids.add(item[1])
        original = Image.open(folder / f"original.{ext}")
        assert Image.open(folder / f"anonymized.{ext}").size == original.size
        assert Image.open(folder / "mask.png").size == original.size
    assert Image.open(out / "composite" / "original.jpg").size == (1920, 1080)
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.format == "PNG" and sheet.height > 4 * 240
    assert not list((tmp_path / "state" / "pids").glob("*.pid"))  # the stack is stopped

    # It went through the API with the CLI: one batch, polled, every image reported done.
    assert len(batch_ids) == 1
    api_log = (tmp_path / "state" / "logs" / "api.log").read_text()
    assert api_log.count('POST /v1/batches HTTP/1.1\\" 201') == 1
    assert f'GET /v1/batches/{batch_ids.pop()} HTTP/1.1\\" 200' in api_log
    report = (tmp_path / "state" / "logs" / "siteveil-cli.log").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in report) == ["done"] * 4


def test_the_demo_on_your_own_files_fails_when_one_is_not_an_image(tmp_path: Path) -> None:
    mine = tmp_path / "My Coffee.webp"
    Image.fromarray(data.coffee()).save(mine, "WEBP")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG" * 10)
    done = demo(tmp_path, "--images", str(mine), str(broken))
    assert done.returncode == 1
    assert "NOT anonymized: broken" in done.stderr
    summary = {r["name"]: r for r in json.loads((tmp_path / "out" / "summary.json").read_text())}
    assert summary["my-coffee"]["status"] == "anonymized"
    assert summary["broken"]["status"] == "failed" and summary["broken"]["reason"]
    assert {p.name for p in (tmp_path / "out" / "broken").iterdir()} == {
        "original.jpg",
        "result.json",
    }
    anonymized = (tmp_path / "out" / "my-coffee" / "anonymized.webp").read_bytes()
    assert Image.open(io.BytesIO(anonymized)).format == "WEBP"
