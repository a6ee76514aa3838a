"""Publishing a version to S3 (a real moto server) as its own Triton repository, never overwriting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import tritonclient.http as thttp

from export.errors import ExportError, VersionExists
from export.publish import S3Location, publish_version, storage_uri
from export.triton_config import PERSON_SEGMENTER, read_config, write_configs
from export.versions import create_version, verify_version
from stack.aws import start_moto
from stack.processes import free_port, stop

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_REPOSITORY = REPO_ROOT / "model_repository"
MOTO = Path(sys.executable).with_name("moto_server")  # the virtualenv running the tests
BUCKET = "siteveil-models"


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not MOTO.exists():
        pytest.skip(f"moto_server not installed at {MOTO} (make setup)")
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    pid = start_moto(Path(sys.executable), port, log_path)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(pid)


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


def _model_dir(tmp_path: Path, payload: bytes, versions: int = 1) -> Path:
    model_dir = tmp_path / "repo" / "person_segmenter"
    write_configs(model_dir, PERSON_SEGMENTER)
    for n in range(1, versions + 1):
        create_version(
            model_dir,
            {"model.onnx": payload + str(n).encode(), "model.py": b"# py\n"},
            source={"test": True},
            options={},
        )
    return model_dir


def _keys(prefix: str) -> set[str]:
    pages = (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    )
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def _download(uri: str, target: Path) -> Path:
    """What KServe's storage initializer does with STORAGE_URI: copy every object under it."""
    location = S3Location.parse(uri)
    s3 = boto3.client("s3")
    for key in _keys(location.prefix + "/"):
        dest = target / key.removeprefix(location.prefix + "/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(BUCKET, key, str(dest))
    return target


def test_storage_uri_is_one_repository_per_version() -> None:
    assert storage_uri("s3://b/models", "m", 2) == "s3://b/models/m/2"
    assert storage_uri("s3://b/models/", "m", 2) == "s3://b/models/m/2"
    assert storage_uri("s3://b", "m", 10) == "s3://b/m/10"
    with pytest.raises(ExportError):
        storage_uri("gs://b/models", "m", 1)
    with pytest.raises(ExportError):
        storage_uri("s3://b/models", "m", 0)
    with pytest.raises(ExportError):
        storage_uri("s3://b/models", "a/b", 1)


def test_each_version_is_a_self_contained_triton_repository(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    model_dir = _model_dir(tmp_path, b"onnx-", versions=2)
    base = f"s3://{BUCKET}/layout-test/models"
    first = publish_version(model_dir, 1, base)
    second = publish_version(model_dir, 2, base)
    assert first.uri == storage_uri(base, "person_segmenter", 1)
    assert second.uri == f"s3://{BUCKET}/layout-test/models/person_segmenter/2"
    root = "layout-test/models/person_segmenter/2"
    # A Triton repository with exactly one model and one version, manifest included.
    assert _keys(f"{root}/") == {
        f"{root}/person_segmenter/config.pbtxt",
        f"{root}/person_segmenter/configs/cpu.pbtxt",
        f"{root}/person_segmenter/configs/onnx.pbtxt",
        f"{root}/person_segmenter/2/model.onnx",
        f"{root}/person_segmenter/2/model.py",
        f"{root}/person_segmenter/2/manifest.json",
    }
    assert set(second.keys) == _keys(f"{root}/")
    assert second.keys[-1].endswith("/2/manifest.json"), "the manifest goes last"
    # Version 1's repository is its own: neither repository sees the other's version.
    first_root = "layout-test/models/person_segmenter/1/person_segmenter/"
    assert {k.removeprefix(first_root).split("/")[0] for k in _keys(first_root)} == {
        "config.pbtxt", "configs", "1"
    }  # fmt: skip
    # What the storage initializer copies to /mnt/models is a loadable repository.
    local = _download(second.uri, tmp_path / "mnt-models")
    config = read_config(local / "person_segmenter" / "config.pbtxt")
    assert config.name == "person_segmenter"
    assert sorted(p.name for p in (local / "person_segmenter").iterdir()) == [
        "2", "config.pbtxt", "configs"
    ]  # fmt: skip
    assert (local / "person_segmenter" / "2" / "model.onnx").read_bytes() == b"onnx-2"
    verify_version(local / "person_segmenter" / "2")  # every file matches the manifest


def test_triton_serves_the_published_version_and_only_it(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    """Publish version 2 of the demo model, copy its storage URI like the storage initializer,
    and start the local Triton on the copy: version 2 is served, version 1 is not there."""
    triton = pytest.importorskip("stack.triton", reason="stack/triton.py is not in this checkout")
    demo = DEMO_REPOSITORY / "person_segmenter"
    if not (demo / "1" / "model.onnx").is_file():
        pytest.skip(f"{demo / '1' / 'model.onnx'} missing: run `make model`")
    try:
        triton.find_install()
    except triton.TritonUnavailable as exc:
        pytest.skip(f"local Triton unavailable: {exc}")
    model_dir = tmp_path / "repo" / "person_segmenter"
    shutil.copytree(demo, model_dir, ignore=shutil.ignore_patterns("[0-9]*", "__pycache__"))
    files = {rel: demo / "1" / rel for rel in ("model.onnx", "model.py")}
    for _ in range(2):
        create_version(model_dir, files, source={"test": True}, options={})
    published = publish_version(model_dir, 2, f"s3://{BUCKET}/serve/models")
    local = _download(published.uri, tmp_path / "mnt-models")
    image = np.zeros((1, 256, 256, 3), dtype=np.float32)
    with triton.running_triton(local, log_dir=tmp_path) as endpoints:
        client = thttp.InferenceServerClient(endpoints.http)
        ready = {v: client.is_model_ready("person_segmenter", v) for v in ("1", "2")}
        inp = thttp.InferInput("image", list(image.shape), "FP32")
        inp.set_data_from_numpy(image)
        result = client.infer("person_segmenter", [inp], model_version="2")
    assert ready == {"1": False, "2": True}
    assert result.as_numpy("person_probability").shape == (1, 256, 256, 1)


def test_publishing_an_existing_version_is_refused(aws_env: dict[str, str], tmp_path: Path) -> None:
    publish_version(_model_dir(tmp_path / "a", b"first"), 1, f"s3://{BUCKET}/refuse")
    with pytest.raises(VersionExists, match="already exists"):
        publish_version(_model_dir(tmp_path / "b", b"second"), 1, f"s3://{BUCKET}/refuse")
    s3 = boto3.client("s3")
    key = "refuse/person_segmenter/1/person_segmenter/1/model.onnx"
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"first1"


def test_an_object_written_meanwhile_is_not_overwritten(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    """A concurrent publish that wins the race: If-None-Match makes S3 refuse the overwrite."""
    model_dir = _model_dir(tmp_path, b"mine")
    config_key = "race/person_segmenter/1/person_segmenter/config.pbtxt"
    s3, rival = boto3.client("s3"), boto3.client("s3")

    def rival_writes_first(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == config_key:
            rival.put_object(Bucket=BUCKET, Key=config_key, Body=b"rival")

    s3.meta.events.register("before-parameter-build.s3.PutObject", rival_writes_first)
    with pytest.raises(VersionExists, match="not overwriting"):
        publish_version(model_dir, 1, f"s3://{BUCKET}/race", client=s3)
    assert rival.get_object(Bucket=BUCKET, Key=config_key)["Body"].read() == b"rival"
    assert not any(k.endswith("manifest.json") for k in _keys("race/")), "incomplete: no manifest"


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
    assert f"published s3://{BUCKET}/cli/models/person_segmenter/1 " in first.stdout
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
