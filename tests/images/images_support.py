"""Run a built image's own entrypoint with buildah (chroot isolation, the host's network)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from stack.config import REPO_ROOT

TAG = next(
    line.split('"')[1]
    for line in (REPO_ROOT / "pyproject.toml").read_text().splitlines()
    if line.startswith("version = ")
)
REPO = os.environ.get("SITEVEIL_IMAGE_REPO", "localhost/siteveil")
IMAGES = {"transformer": f"{REPO}/transformer:{TAG}", "api": f"{REPO}/api:{TAG}"}


class Missing(RuntimeError):
    """buildah or a built image is absent: the caller skips, saying which and why."""


def buildah() -> str:
    path = shutil.which("buildah")
    if path is None:
        raise Missing("buildah is not installed (apt-get install buildah; `make images`)")
    if os.geteuid() != 0:
        raise Missing("buildah runs images here as root only (chroot isolation)")
    return path


@dataclass(frozen=True)
class Image:
    ref: str
    config: dict[str, Any]  # the OCI image config: Entrypoint, Cmd, User, Env, …
    size_bytes: int

    @property
    def entrypoint(self) -> list[str]:
        return list(self.config.get("Entrypoint") or [])


def inspect(ref: str) -> Image:
    result = subprocess.run(
        [buildah(), "inspect", "--type", "image", ref], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise Missing(f"image {ref} is not built: run `make images`")
    info = json.loads(result.stdout)
    size = subprocess.run(
        [buildah(), "images", "--format", "{{.Size}}", "--noheading", ref],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return Image(ref, info["OCIv1"]["config"], _bytes(size.stdout.strip().splitlines()[0]))


def _bytes(text: str) -> int:
    """buildah's human size ("312 MB") in bytes."""
    number, unit = text.split()
    return int(float(number) * {"B": 1, "KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit])


@contextmanager
def working_container(image: Image) -> Iterator[str]:
    """A buildah working container of the image (its own copy-on-write root), removed after."""
    ctr = subprocess.run(
        [buildah(), "from", "--pull-never", image.ref],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    try:
        yield ctr
    finally:
        subprocess.run([buildah(), "rm", ctr], capture_output=True, check=False)


def run_argv(ctr: str, argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """`buildah run` of argv in the container, as the image's user, on the host's network."""
    env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    return [buildah(), "run", "--isolation", "chroot", *env_args, ctr, "--", *argv]


def run(ctr: str, argv: Sequence[str], env: Mapping[str, str] = {}) -> str:
    result = subprocess.run(
        run_argv(ctr, argv, env), capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, f"{argv} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result.stdout


@contextmanager
def serving(
    ctr: str, argv: Sequence[str], env: Mapping[str, str], ready_url: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start argv in the container and wait until ready_url answers 200; stop it after."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            run_argv(ctr, argv, env), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"{argv} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(ready_url, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{ready_url} not ready in 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield proc
    finally:
        # buildah run forwards SIGTERM to the process it runs (Gunicorn / uvicorn stop cleanly).
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
