"""End to end: a batch of 50 images uploaded with the `siteveil` CLI through the stack's own upload
API (moto S3 → EventBridge → SQS → relay → transformer → Triton) ends complete with the right
counts, and every result is downloadable through the API's presigned links."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from skimage import data

from stack.lifecycle import StackState

TENANT = "e2e-tenant"
PEOPLE, NO_PEOPLE, CORRUPT = 24, 24, 2  # 50 in all


def _customer_env(stack: StackState) -> dict[str, str]:
    """A customer's environment: the API's URL and a dev token minted as `make up` says; no AWS
    credentials and no API settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SITEVEIL_"))}
    token = subprocess.run(
        [sys.executable, "-m", "api", "dev-token", "--tenant", TENANT,
         "--dir", stack.api_keys_dir, "--issuer", "siteveil-dev", "--audience", "siteveil-api"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    return {**env, "SITEVEIL_TOKEN": token, "SITEVEIL_API_URL": stack.api_url}


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
def test_batch_of_50_through_the_local_stack(stack: StackState, tmp_path: Path) -> None:
    url, env = stack.api_url, _customer_env(stack)
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
