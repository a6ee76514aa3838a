"""`python -m ops` against a real moto S3: records written as the transformer writes them, the
report's three files (locally and in S3), the window and tenant filters, and the guard that a
reject verdict is never promoted."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import numpy as np
import pytest
from PIL import Image

from ops.cli import REJECT_EXIT, main
from stack.aws import start_moto
from stack.processes import free_port, stop
from transformer.codec import encode_mask
from transformer.keys import result_keys
from transformer.results import (
    Anonymization,
    ModelRef,
    OutputKeys,
    Region,
    ResultRecord,
    SourceObject,
)

MOTO = Path(sys.executable).with_name("moto_server")
BUCKET = "siteveil-results"
LIVE = ("person_segmenter", "1")
CANDIDATE = ("person_segmenter", "2")
SHAPE = (60, 80)


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not MOTO.exists():
        pytest.skip(f"moto_server not installed at {MOTO} (make setup)")
    port = free_port()
    pid = start_moto(Path(sys.executable), port, tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(pid)


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> object:
    for key, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    for bucket in client.list_buckets()["Buckets"]:  # a fresh bucket per test
        for item in client.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            client.delete_object(Bucket=bucket["Name"], Key=item["Key"])
        client.delete_bucket(Bucket=bucket["Name"])
    client.create_bucket(Bucket=BUCKET)
    return client


def _jpeg(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.where(mask[..., None], 90, 200).astype(np.uint8).repeat(3, 2)).save(
        buffer, "JPEG"
    )
    return buffer.getvalue()


def put_result(
    s3: object,
    tenant: str,
    image_id: str,
    mask: np.ndarray | None,
    *,
    model: tuple[str, str],
    shadow: bool,
    when: datetime,
) -> None:
    """result.json (+ anonymized image and mask when `mask` is given) as the transformer writes
    them; `mask=None` writes a failed record."""
    keys = result_keys(tenant, image_id, "jpg", shadow_model=model if shadow else None)
    outputs = None
    if mask is not None:
        s3.put_object(Bucket=BUCKET, Key=keys.anonymized, Body=_jpeg(mask))  # type: ignore[attr-defined]
        s3.put_object(Bucket=BUCKET, Key=keys.mask, Body=encode_mask(mask))  # type: ignore[attr-defined]
        outputs = OutputKeys(
            bucket=BUCKET, anonymized=keys.anonymized, mask=keys.mask, record=keys.record
        )
    record = ResultRecord(
        status="anonymized" if mask is not None else "failed",
        image_id=image_id,
        tenant=tenant,
        event_id="e",
        source=SourceObject(bucket="uploads", key=f"incoming/{tenant}/2026/12/01/{image_id}.jpg"),
        outputs=outputs,
        width=SHAPE[1],
        height=SHAPE[0],
        model=ModelRef(name=model[0], version=model[1]),
        anonymization=Anonymization(mode="blur", threshold=0.5, dilation_px=2),
        person_fraction=float(mask.mean()) if mask is not None else None,
        person_regions=[Region(x=10, y=10, width=20, height=30, pixels=600)]
        if mask is not None
        else [],
        timings_ms={"total": 100.0 if not shadow else 120.0},
        transformer_version="0.1.0",
        processed_at=when,
        error=None if mask is not None else {"type": "InvalidImage", "reason": "broken"},  # type: ignore[arg-type]
    )
    s3.put_object(Bucket=BUCKET, Key=keys.record, Body=record.model_dump_json().encode())  # type: ignore[attr-defined]


def person() -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[10:40, 10:30] = True
    return mask


def populate(
    s3: object, *, images: int, blind: set[int] = set(), missing: set[int] = set()
) -> None:
    now = datetime.now(UTC)
    for n in range(images):
        image_id = f"img-{n:02d}"
        put_result(s3, "acme", image_id, person(), model=LIVE, shadow=False, when=now)
        if n in missing:
            continue
        candidate = np.zeros(SHAPE, bool) if n in blind else person()
        put_result(s3, "acme", image_id, candidate, model=CANDIDATE, shadow=True, when=now)


def test_an_agreeing_candidate_is_promoted_and_the_files_are_written(
    s3: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(s3, images=30)
    code = main(
        ["shadow-report", "--bucket", BUCKET, "--output", str(tmp_path), "--s3",
         f"s3://{BUCKET}/shadow-reports/x", "--s3-history", "--fail-on-reject"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "verdict: PROMOTE" in out
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["promote"] is True and verdict["candidate"] == "person_segmenter/2"
    assert verdict["live"] == "person_segmenter/1"
    assert verdict["summary"]["compared"] == 30
    keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="shadow-reports/")["Contents"]
    ]  # type: ignore[attr-defined]
    assert {k.rsplit("/", 2)[-2] for k in keys} >= {"latest"} and len(keys) == 6
    html = (tmp_path / "report.html").read_text()
    assert 'src="http' not in html and "<script" not in html  # self-contained, nothing fetched


def test_a_candidate_that_misses_people_is_rejected_with_the_worst_images_shown(
    s3: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(s3, images=30, blind={3, 7})
    code = main(
        ["shadow-report", "--bucket", BUCKET, "--output", str(tmp_path), "--fail-on-reject"]
    )
    out = capsys.readouterr().out
    assert code == REJECT_EXIT
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["promote"] is False
    assert verdict["reasons"][0].startswith("privacy loss: p95 55.00%")  # 2 of 30, interpolated
    assert [w["image_id"] for w in verdict["worst"]] == ["img-03", "img-07"]
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/jpeg;base64,") == 4  # live and candidate, for both images
    assert "acme/img-03" in (tmp_path / "report.md").read_text()
    assert "img-03" in out


def test_missing_shadow_results_are_failures(s3: object, tmp_path: Path) -> None:
    populate(s3, images=30, missing={5})
    assert (
        main(["shadow-report", "--bucket", BUCKET, "--output", str(tmp_path), "--fail-on-reject"])
        == REJECT_EXIT
    )
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["new_failures"] == [
        {
            "tenant": "acme",
            "image_id": "img-05",
            "candidate": "missing",
            "reason": verdict["new_failures"][0]["reason"],
        }
    ]
    assert verdict["reasons"][0].startswith(
        "failures: the candidate failed or produced no result on 1"
    )


def test_the_window_and_tenant_choose_the_images(s3: object, tmp_path: Path) -> None:
    populate(s3, images=2)
    old = datetime.now(UTC) - timedelta(days=3)
    put_result(s3, "acme", "old", person(), model=LIVE, shadow=False, when=old)
    put_result(s3, "other", "x", person(), model=LIVE, shadow=False, when=datetime.now(UTC))
    main(
        [
            "shadow-report",
            "--bucket",
            BUCKET,
            "--tenant",
            "acme",
            "--since",
            "24h",
            "--min-images",
            "1",
            "--output",
            str(tmp_path),
        ]
    )
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["summary"]["images"] == 2 and verdict["promote"] is True


def test_with_two_candidates_in_the_bucket_one_must_be_named(
    s3: object, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(s3, images=1)
    put_result(
        s3,
        "acme",
        "img-00",
        person(),
        model=("person_segmenter", "3"),
        shadow=True,
        when=datetime.now(UTC),
    )
    assert main(["shadow-report", "--bucket", BUCKET]) == 1
    assert "person_segmenter/2, person_segmenter/3" in capsys.readouterr().err


def test_a_rejected_verdict_is_never_promoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict = tmp_path / "verdict.json"
    verdict.write_text(
        json.dumps(
            {
                "promote": False,
                "candidate": "person_segmenter/2",
                "live": "person_segmenter/1",
                "reasons": ["privacy loss: p95 12.00%"],
            }
        )
    )
    for command in (["promote"], ["canary", "--percent", "10"]):
        assert main([*command, "--verdict", str(verdict), "--run"]) == 1
        err = capsys.readouterr().err
        assert "reject: privacy loss: p95 12.00%" in err


def test_a_passing_verdict_prints_the_promotion_and_its_rollback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict = tmp_path / "verdict.json"
    verdict.write_text(
        json.dumps(
            {
                "promote": True,
                "candidate": "person_segmenter/2",
                "live": "person_segmenter/1",
                "reasons": [],
            }
        )
    )
    assert main(["promote", "--verdict", str(verdict)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(
        "--set model.version=2 --set shadow.enabled=false --set inference.canaryTrafficPercent=100"
    )
    assert out[1].startswith("# roll back with: helm upgrade") and "model.version=1" in out[1]
    assert out[2] == "(printed only; add --run to run it)"
