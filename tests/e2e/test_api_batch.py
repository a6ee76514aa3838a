"""End to end: a batch of 50 images uploaded with the `siteveil` CLI through the upload API into the
local stack (moto S3 → EventBridge → SQS → relay → transformer → Triton) ends complete with the
right counts, and every result is downloadable through the API's presigned links."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from skimage import data

from stack.config import REPO_ROOT, StackConfig
from stack.lifecycle import StackState, running_stack
from stack.processes import free_port
from stack.triton import DEFAULT_VENV

MODEL = REPO_ROOT / "model_repository" / "person_segmenter" / "1" / "model.onnx"
TENANT = "e2e-tenant"
PEOPLE, NO_PEOPLE, CORRUPT = 24, 24, 2  # 50 in all


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


def _api_env(state: StackState, keys_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SITEVEIL_"))}
    env.update(state.env())
    env.update(
        {
            "SITEVEIL_API_UPLOADS_BUCKET": state.uploads_bucket,
            "SITEVEIL_API_RESULTS_BUCKET": state.results_bucket,
            "SITEVEIL_API_JWKS_PATH": str(keys_dir / "jwks.json"),
            "SITEVEIL_API_ISSUER": "siteveil-dev",
            "SITEVEIL_API_AUDIENCE": "siteveil-api",
        }
    )
    return env


@pytest.fixture
def stack_with_api(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The local stack plus `python -m api serve` pointed at its buckets: (API URL, env)."""
    if not MODEL.exists():
        pytest.skip(f"{MODEL} is missing: run `make model`")
    if not (DEFAULT_VENV / "bin" / "python").exists():
        pytest.skip(f"no Triton virtualenv at {DEFAULT_VENV}: run `make triton-venv`")
    with running_stack(StackConfig(state_dir=tmp_path / "stack")) as state:
        env = _api_env(state, tmp_path / "keys")
        _python_m(["api", "dev-keys", "--dir", str(tmp_path / "keys")], env)
        port = free_port()
        log_path = tmp_path / "api.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "api", "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            token = _python_m(
                ["api", "dev-token", "--tenant", TENANT, "--dir", str(tmp_path / "keys")], env
            )
            yield url, {**env, "SITEVEIL_TOKEN": token, "SITEVEIL_API_URL": url}
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def _frames(folder: Path) -> dict[str, bool | None]:
    """50 files: crops of astronaut() (a person), of rocket() (none), and 2 that are not images.
    Returns name → expects a person (None: corrupt)."""
    folder.mkdir(parents=True)
    astronaut, rocket = data.astronaut(), data.rocket()
    expected: dict[str, bool | None] = {}
    for i in range(PEOPLE):
        crop = astronaut[i * 4 : 400 + i * 4, i * 3 : 400 + i * 3]
        name = f"person-{i:02d}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray(crop).save(folder / name)
        expected[name] = True
    for i in range(NO_PEOPLE):
        crop = rocket[i * 2 : 300 + i * 2, 100 + i * 4 : 400 + i * 4]
        name = f"rocket-{i:02d}.{'webp' if i % 2 else 'jpg'}"
        Image.fromarray(crop).save(folder / name)
        expected[name] = False
    for i in range(CORRUPT):
        name = f"corrupt-{i}.jpg"
        (folder / name).write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG " * 20)
        expected[name] = None
    return expected


@pytest.mark.e2e
def test_batch_of_50_through_the_local_stack(
    stack_with_api: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = stack_with_api
    expected = _frames(tmp_path / "frames")
    out = tmp_path / "out"
    siteveil = Path(sys.executable).with_name("siteveil")
    done = subprocess.run(
        [str(siteveil), "upload", str(tmp_path / "frames"), "--batch", "--out", str(out),
         "--timeout", "300", "--poll", "1"],
        env=env, capture_output=True, text=True, timeout=420, check=False,
    )  # fmt: skip
    # exit 1: the two corrupt files fail (as they must); everything else is done
    assert done.returncode == 1, done.stderr
    assert "50 uploaded: 48 done, 2 failed, 0 pending" in done.stderr

    summary = json.loads((out / "siteveil-results.json").read_text())
    batch_ids = {row["batch_id"] for row in summary}
    assert len(batch_ids) == 1
    headers = {"Authorization": f"Bearer {env['SITEVEIL_TOKEN']}"}
    batch = requests.get(f"{url}/v1/batches/{batch_ids.pop()}", headers=headers, timeout=30).json()
    assert batch["status"] == "complete"
    assert batch["counts"] == {"total": 50, "pending": 0, "done": 48, "failed": 2}

    by_name = {image["filename"]: image for image in batch["images"]}
    for name, person in expected.items():
        image = by_name[name]
        if person is None:
            assert image["status"] == "failed" and image["error"]["reason"], name
            assert image["anonymized_url"] is None
            continue
        assert image["status"] == "done", (name, image)
        original = np.asarray(Image.open(tmp_path / "frames" / name).convert("RGB"), dtype=float)
        fetched = requests.get(image["anonymized_url"], timeout=30)
        assert fetched.status_code == 200
        anonymized = np.asarray(Image.open(io.BytesIO(fetched.content)).convert("RGB"), dtype=float)
        assert anonymized.shape == original.shape, name
        assert requests.get(image["mask_url"], timeout=30).status_code == 200
        # what the CLI downloaded is what the link serves
        row = next(r for r in summary if Path(r["file"]).name == name)
        assert Path(row["output"]).read_bytes() == fetched.content
        if person:
            assert image["person_fraction"] > 0.05, name
            # the face (astronaut() has it near (100..200, 160..260)) is no longer the original
            face = (slice(60, 160), slice(150, 230))
            assert np.abs(anonymized[face] - original[face]).mean() > 10, name
