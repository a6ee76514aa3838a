"""Fixtures for the CLI tests: moto's S3 server (what the local stack runs), the real API process
(`python -m api serve`), and credentials minted with `python -m api dev-token` / `create-key`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from botocore.client import BaseClient
from moto.server import ThreadedMotoServer

from stack.processes import free_port

BUCKET = "uploads"
TENANT = "acme"
ISSUER = "siteveil-dev"
AUDIENCE = "siteveil-api"
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ApiProcess:
    url: str
    env: dict[str, str]
    s3: BaseClient
    token: str
    api_key: str
    keys_dir: Path

    def run_cli(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """The `siteveil` console script, as a customer runs it."""
        siteveil = Path(sys.executable).with_name("siteveil")
        return subprocess.run(
            [str(siteveil), "--api-url", self.url, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _python_m(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="session")
def api_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    root = tmp_path_factory.mktemp("cli-api")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "SITEVEIL_API_UPLOADS_BUCKET": BUCKET,
        "SITEVEIL_API_JWKS_PATH": str(root / "keys" / "jwks.json"),
        "SITEVEIL_API_ISSUER": ISSUER,
        "SITEVEIL_API_AUDIENCE": AUDIENCE,
    }
    for name in ("SITEVEIL_TOKEN", "SITEVEIL_API_KEY", "SITEVEIL_API_URL", "AWS_PROFILE"):
        env.pop(name, None)
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing", region_name="us-east-1",
    )  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)
    _python_m(["api", "dev-keys", "--dir", str(root / "keys")], env)
    token = _python_m(["api", "dev-token", "--tenant", TENANT, "--dir", str(root / "keys")], env)
    api_key = _python_m(["api", "create-key", "--tenant", TENANT, "--name", "cli-test"], env)

    api_port = free_port()
    log_path = root / "api.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api", "serve", "--host", "127.0.0.1", "--port", str(api_port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"API exited {proc.returncode}:\n{log_path.read_text()}")
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"API not ready:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield ApiProcess(url, env, s3, token, api_key, root / "keys")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        moto.stop()
