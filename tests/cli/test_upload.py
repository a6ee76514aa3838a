"""`siteveil upload` against the real API process and moto's S3.

The transformer is not running here: a stand-in writes results exactly as the result.json contract
says (images first, result.json last). The real pipeline is exercised in tests/e2e.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import requests
from PIL import Image

from transformer.keys import InvalidKey, parse_incoming_key, result_keys
from transformer.results import (
    Anonymization,
    Failure,
    ModelRef,
    OutputKeys,
    ResultRecord,
    SourceObject,
)

BUCKET = "uploads"


FAILING_WIDTH = 13
"""The stand-in transformer fails images of this width (as the real one fails unusable images)."""


def draw(path: Path, seed: int, fmt: str, width: int = 64) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(48, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def process_pending(s3: Any) -> int:
    """Stand-in transformer: a result for every upload that has none yet."""
    written = 0
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="incoming/")
    for obj in listing.get("Contents", []):
        try:
            incoming = parse_incoming_key(obj["Key"])
        except InvalidKey:
            continue
        keys = result_keys(incoming.tenant, incoming.image_id, "png")
        if "Contents" in s3.list_objects_v2(Bucket=BUCKET, Prefix=keys.record):
            continue
        original = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        image = Image.open(io.BytesIO(original)).convert("RGB")
        failed = image.width == FAILING_WIDTH
        if not failed:
            out = io.BytesIO()
            Image.fromarray(255 - np.asarray(image)).save(out, format="PNG")
            s3.put_object(Bucket=BUCKET, Key=keys.anonymized, Body=out.getvalue())
            s3.put_object(Bucket=BUCKET, Key=keys.mask, Body=b"mask")
        record = ResultRecord(
            status="failed" if failed else "anonymized",
            image_id=incoming.image_id,
            tenant=incoming.tenant,
            event_id="stand-in",
            source=SourceObject(bucket=BUCKET, key=obj["Key"]),
            outputs=None
            if failed
            else OutputKeys(
                bucket=BUCKET, anonymized=keys.anonymized, mask=keys.mask, record=keys.record
            ),
            width=None if failed else image.width,
            height=None if failed else image.height,
            model=ModelRef(name="person_segmenter", version="1"),
            anonymization=Anonymization(mode="blur", threshold=0.5, dilation_px=0),
            transformer_version="stand-in",
            processed_at=datetime.now(UTC),
            error=Failure(type="InvalidImage", reason="cannot decode") if failed else None,
        )
        s3.put_object(Bucket=BUCKET, Key=keys.record, Body=record.model_dump_json().encode())
        written += 1
    return written


@contextmanager
def stand_in_transformer(s3: Any) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            process_pending(s3)
            stop.wait(0.3)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def lines(stdout: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines() if line.strip()]


def test_folder_as_batch_waits_and_downloads_the_anonymized_images(
    api_process: Any, tmp_path: Path
) -> None:
    src = tmp_path / "frames"
    originals = {
        "a.jpg": draw(src / "a.jpg", 1, "JPEG"),
        "day2/b.png": draw(src / "day2" / "b.png", 2, "PNG"),
        "day2/c.webp": draw(src / "day2" / "c.webp", 3, "WEBP"),
    }
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    with stand_in_transformer(api_process.s3):
        done = api_process.run_cli(
            "upload", str(src), "--batch", "--out", str(out), "--poll", "0.3", "--timeout", "60",
            env={"SITEVEIL_API_KEY": api_process.api_key},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3 uploaded: 3 done, 0 failed, 0 pending" in done.stderr
    rows = lines(done.stdout)
    assert [r[0] for r in rows] == ["done"] * 3
    for relative, original in originals.items():
        result = out / Path(relative).with_suffix(".png")
        anonymized = np.asarray(Image.open(result).convert("RGB"))
        source = np.asarray(Image.open(original).convert("RGB"))
        assert np.array_equal(anonymized, 255 - source), relative
    summary = json.loads((out / "siteveil-results.json").read_text())
    assert {Path(r["file"]).name for r in summary} == {"a.jpg", "b.png", "c.webp"}
    assert len({r["batch_id"] for r in summary}) == 1 and summary[0]["batch_id"]
    # the uploads carry the type S3 was told to enforce
    for row in summary:
        listing = api_process.s3.list_objects_v2(Bucket=BUCKET, Prefix="incoming/acme/")
        key = next(o["Key"] for o in listing["Contents"] if row["image_id"] in o["Key"])
        head = api_process.s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ContentLength"] == Path(row["file"]).stat().st_size


def test_upload_without_wait_prints_ids_that_the_api_reports_pending(
    api_process: Any, tmp_path: Path
) -> None:
    a = draw(tmp_path / "one.png", 4, "PNG")
    b = draw(tmp_path / "two.jpeg", 5, "JPEG")
    done = api_process.run_cli("--token", api_process.token, "upload", str(a), str(b))
    assert done.returncode == 0, done.stderr
    rows = lines(done.stdout)
    assert [(r[0], Path(r[2]).name) for r in rows] == [
        ("pending", "one.png"),
        ("pending", "two.jpeg"),
    ]
    headers = {"Authorization": f"Bearer {api_process.token}"}
    for row in rows:
        status = requests.get(f"{api_process.url}/v1/images/{row[1]}", headers=headers, timeout=10)
        assert status.json()["status"] == "pending"
        assert status.json()["filename"] == Path(row[2]).name


def test_a_failed_image_is_reported_with_its_reason_and_exit_1(
    api_process: Any, tmp_path: Path
) -> None:
    good = draw(tmp_path / "good.png", 6, "PNG")
    bad = draw(tmp_path / "bad.png", 7, "PNG", width=FAILING_WIDTH)
    with stand_in_transformer(api_process.s3):
        done = api_process.run_cli(
            "--token", api_process.token, "upload", str(good), str(bad), "--wait",
            "--poll", "0.3", "--timeout", "60",
        )  # fmt: skip
    assert done.returncode == 1
    assert "2 uploaded: 1 done, 1 failed, 0 pending" in done.stderr
    rows = {Path(r[2]).name: r for r in lines(done.stdout)}
    assert rows["good.png"][0] == "done"
    assert rows["bad.png"][0] == "failed" and rows["bad.png"][-1] == "reason: cannot decode"


def test_waiting_gives_up_at_the_timeout_with_exit_1(api_process: Any, tmp_path: Path) -> None:
    image = draw(tmp_path / "never.png", 8, "PNG")
    done = api_process.run_cli(
        "--token", api_process.token, "upload", str(image), "--wait", "--timeout", "0.5",
        "--poll", "0.2",
    )  # fmt: skip
    assert done.returncode == 1
    assert "1 uploaded: 0 done, 0 failed, 1 pending" in done.stderr


def test_bad_credentials_exit_3_without_uploading(api_process: Any, tmp_path: Path) -> None:
    image = draw(tmp_path / "x.png", 9, "PNG")
    for args in (["--token", "not-a-token"], ["--api-key", "svk_" + "0" * 16 + "_" + "x" * 43]):
        done = api_process.run_cli(*args, "upload", str(image))
        assert done.returncode == 3 and "HTTP 401" in done.stderr, done.stderr
    done = api_process.run_cli("upload", str(image))
    assert done.returncode == 2 and "SITEVEIL_TOKEN" in done.stderr


def test_usage_errors_exit_2(api_process: Any, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for path in (text, tmp_path / "missing.jpg", tmp_path / "empty-dir"):
        if path.name == "empty-dir":
            path.mkdir()
        done = api_process.run_cli("--token", api_process.token, "upload", str(path))
        assert done.returncode == 2, (path, done.stderr)


def test_served_api_answers_probes_and_serves_its_openapi(api_process: Any) -> None:
    assert requests.get(f"{api_process.url}/healthz", timeout=5).json() == {"status": "alive"}
    assert requests.get(f"{api_process.url}/readyz", timeout=5).status_code == 200
    document = requests.get(f"{api_process.url}/openapi.json", timeout=5).json()
    assert "/v1/batches/{batch_id}" in document["paths"]
