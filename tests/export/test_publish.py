"""Publishing a version to S3 (a real moto server) in KServe's storage layout, never overwriting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from export.errors import ExportError, VersionExists
from export.publish import S3Location, publish_version
from export.triton_config import PERSON_SEGMENTER, write_configs
from export.versions import create_version

REPO_ROOT = Path(__file__).resolve().parents[2]
MOTO = Path(sys.executable).with_name("moto_server")  # the virtualenv running the tests
BUCKET = "siteveil-models"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    if not MOTO.exists():
        pytest.skip(f"moto_server not installed at {MOTO} (make setup)")
    port = _free_port()
    proc = subprocess.Popen(
        [str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{url}/moto-api/", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise RuntimeError("moto_server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    return env


def _model_dir(tmp_path: Path, payload: bytes) -> Path:
    model_dir = tmp_path / "repo" / "person_segmenter"
    write_configs(model_dir, PERSON_SEGMENTER)
    create_version(
        model_dir, {"model.onnx": payload, "model.py": b"# py\n"}, source={"test": True}, options={}
    )
    return model_dir


def test_publish_writes_the_storage_initializer_layout(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    model_dir = _model_dir(tmp_path, b"onnx-bytes")
    published = publish_version(model_dir, 1, f"s3://{BUCKET}/layout-test/models")
    assert published.uri == f"s3://{BUCKET}/layout-test/models/person_segmenter/1/"
    s3 = boto3.client("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="layout-test/")["Contents"]}
    base = "layout-test/models/person_segmenter"
    assert {
        f"{base}/1/model.onnx",
        f"{base}/1/model.py",
        f"{base}/1/manifest.json",
        f"{base}/config.pbtxt",
        f"{base}/configs/cpu.pbtxt",
        f"{base}/configs/onnx.pbtxt",
    } == keys
    body = s3.get_object(Bucket=BUCKET, Key=f"{base}/1/model.onnx")["Body"].read()
    assert body == b"onnx-bytes"


def test_publishing_an_existing_version_is_refused(aws_env: dict[str, str], tmp_path: Path) -> None:
    publish_version(_model_dir(tmp_path / "a", b"first"), 1, f"s3://{BUCKET}/refuse")
    with pytest.raises(VersionExists, match="already exists"):
        publish_version(_model_dir(tmp_path / "b", b"second"), 1, f"s3://{BUCKET}/refuse")
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=BUCKET, Key="refuse/person_segmenter/1/model.onnx")["Body"].read()
    assert body == b"first"


def test_cli_publish_uses_the_standard_aws_environment(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    model_dir = _model_dir(tmp_path, b"cli")
    cmd = [
        sys.executable,
        "-m",
        "export",
        "publish",
        "--repository",
        str(model_dir.parent),
        "--name",
        "person_segmenter",
        "--version",
        "1",
        "--destination",
        f"s3://{BUCKET}/cli/models",
    ]
    env = {**os.environ, **aws_env}
    first = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert first.returncode == 0, first.stderr
    assert f"s3://{BUCKET}/cli/models/person_segmenter/1/" in first.stdout
    again = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_a_version_that_does_not_match_its_manifest_is_not_published(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    model_dir = _model_dir(tmp_path, b"good")
    (model_dir / "1" / "model.onnx").write_bytes(b"changed after export")
    with pytest.raises(ExportError, match="does not match its manifest"):
        publish_version(model_dir, 1, f"s3://{BUCKET}/tampered")
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="tampered/")["KeyCount"] == 0


def test_s3_uri_parsing() -> None:
    assert S3Location.parse("s3://b/models/").key("m", "1", "x") == "models/m/1/x"
    assert S3Location.parse("s3://b").key("m", "1") == "m/1"
    with pytest.raises(ExportError):
        S3Location.parse("https://b/models")
