"""The servers under test and what they cost: start/stop, CPU of process trees, peak RSS.

CPU is user + system time of a whole process tree (evaluation.cpu: Gunicorn's master and
workers, Triton and its Python-backend stubs), sampled before and after a round. Peak RSS is
sampled every `interval_s` during the round, per process.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from evaluation import cpu

from stack.config import AwsLayout, StackConfig
from stack.errors import StackError
from stack.lifecycle import transformer_command
from stack.processes import free_port, http_status, is_alive, log_tail, spawn, stop

REPO_ROOT = Path(__file__).resolve().parents[1]
KSERVE_VENV = REPO_ROOT / ".venv-kserve"
KSERVE_MODULE = REPO_ROOT / "bench" / "kserve_reference"
MODEL = "person_segmenter"


@dataclass(frozen=True, slots=True)
class Target:
    """How to start one transformer and where it takes events."""

    name: str
    argv: tuple[str, ...]
    port: int
    event_path: str  # "/" for ours, KServe's `/v1/models/<name>:predict` for the references
    ready_paths: tuple[str, ...]  # ready once any of them answers 200
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.event_path}"


def siteveil_target(
    python: Path, *, triton_http: str, workers: int, results_bucket: str, uploads_bucket: str
) -> Target:
    """Our transformer under real Gunicorn with the command line `stack/` starts it with
    (stack.lifecycle.transformer_command): segmenter only, pixelation, JPEG quality 90."""
    port = free_port()
    config = StackConfig(
        python=python,
        model_name=MODEL,
        models=(MODEL,),
        transformer_workers=workers,
        transformer_args=("--anonymization_mode=pixelate", "--jpeg_quality=90"),
        aws=AwsLayout(results_bucket=results_bucket, uploads_bucket=uploads_bucket),
    )
    argv = tuple(transformer_command(config, triton_http, port))
    return Target("siteveil", argv, port, "/", ("/v2/health/ready",))


def kserve_missing(venv: Path = KSERVE_VENV, module: Path = KSERVE_MODULE) -> str | None:
    """Why the KServe references cannot run here, or None when they can."""
    if not (venv / "bin" / "python").exists():
        return f"no {venv.name} (build it with `make kserve-venv`)"
    if not (module / "__main__.py").exists() and not (module.with_suffix(".py")).exists():
        return f"no {module.relative_to(REPO_ROOT)} (the KServe reference transformers)"
    return None


def kserve_version(venv: Path = KSERVE_VENV) -> str:
    python = venv / "bin" / "python"
    if not python.exists():
        return "not installed"
    code = "import importlib.metadata as m; print(m.version('kserve'))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else "not installed"


def kserve_target(
    variant: str, *, triton_http: str, workers: int, results_bucket: str, venv: Path = KSERVE_VENV
) -> Target:
    """The contract's command line for a KServe SDK reference (BENCH_CONTRACT.md)."""
    port = free_port()
    argv = (
        str(venv / "bin" / "python"),
        "-m",
        "bench.kserve_reference",
        "--variant",
        variant,
        "--http_port",
        str(port),
        "--predictor_host",
        triton_http,
        "--model_name",
        "person_segmenter",
        "--results_bucket",
        results_bucket,
        "--workers",
        str(workers),
    )
    return Target(
        f"kserve_{variant}",
        argv,
        port,
        "/v1/models/person_segmenter:predict",
        # the contract allows either: KServe's model-ready (v1) or server-ready (v2) path
        ("/v1/models/person_segmenter", "/v2/health/ready"),
    )


def start(target: Target, env: Mapping[str, str], log_path: Path, timeout_s: float = 180) -> int:
    """Start a target in its own session from the repository root; its pid once it is ready."""
    proc = spawn(target.argv, log_path=log_path, env={**env, **target.env}, cwd=REPO_ROOT)
    try:
        _wait_ready(target, proc.pid, log_path, timeout_s)
    except BaseException:
        stop(proc.pid)
        raise
    return proc.pid


def _wait_ready(target: Target, pid: int, log_path: Path, timeout_s: float) -> None:
    urls = [f"http://127.0.0.1:{target.port}{path}" for path in target.ready_paths]
    deadline = time.monotonic() + timeout_s
    while not any(http_status(url) == 200 for url in urls):
        if not is_alive(pid):
            raise StackError(f"{target.name} exited during start-up:\n{log_tail(log_path)}")
        if time.monotonic() > deadline:
            raise StackError(
                f"{target.name} not ready at {' or '.join(urls)} after {timeout_s:.0f} s:\n"
                f"{log_tail(log_path)}"
            )
        time.sleep(0.2)


def child_env(aws: Mapping[str, str]) -> dict[str, str]:
    """Our environment without AWS_* of the caller's, plus the emulator's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(aws)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONPATH", None)
    return env


def worker_pids(root: int) -> list[int]:
    """The processes that serve requests: the root's descendants, or the root when it has none
    (a single-process server)."""
    try:
        children = psutil.Process(root).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [c.pid for c in children] or [root]


class RssSampler:
    """Peak resident memory of each of a tree's workers, sampled in a thread while it runs."""

    def __init__(self, root: int, interval_s: float = 0.25) -> None:
        self._root = root
        self._interval = interval_s
        self._peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for pid in worker_pids(self._root):
            try:
                rss = psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue
            self._peaks[pid] = max(self._peaks.get(pid, 0), rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_per_worker(self) -> int:
        """The largest peak RSS (bytes) any one worker reached."""
        return max(self._peaks.values(), default=0)


def settle(
    root: int, *, idle_cpu_s: float = 0.05, window_s: float = 0.5, timeout_s: float = 30
) -> bool:
    """Wait until the tree is idle (under idle_cpu_s of CPU in window_s): workers a server
    starts after it says it is ready finish their start-up before the clock starts. False when
    it never went idle within timeout_s (a worker in a restart loop, say)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = cpu.sample({"tree": root})
        time.sleep(window_s)
        if cpu.spent(before, cpu.sample({"tree": root}))["tree"] < idle_cpu_s:
            return True
    return False


def stop_all(pids: Sequence[int]) -> None:
    for pid in pids:
        stop(pid)
