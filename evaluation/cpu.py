"""CPU seconds spent by a process and all its descendants, sampled with psutil.

The transformer is a Gunicorn master with workers, Triton a server with one Python-backend stub
process per model instance: what an image costs is the sum over each whole process tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psutil


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_cpu_seconds(pid: int) -> dict[tuple[int, float], float]:
    """(pid, create time) → user + system CPU seconds of every live process in the tree.

    Keyed with the create time so a pid reused by a new process is not mistaken for the old one.
    Children that already exited are counted by the kernel in their parent's `children_*`
    times (once reaped), which are added to the parent's own.
    """
    seconds: dict[tuple[int, float], float] = {}
    for proc in _tree(pid):
        try:
            with proc.oneshot():
                times = proc.cpu_times()
                key = (proc.pid, proc.create_time())
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        seconds[key] = times.user + times.system + times.children_user + times.children_system
    return seconds


@dataclass(frozen=True, slots=True)
class CpuSample:
    per_component: dict[str, dict[tuple[int, float], float]]


def sample(pids: Mapping[str, int]) -> CpuSample:
    """CPU seconds so far of each named process tree (e.g. {"transformer": pid, "triton": pid})."""
    return CpuSample({name: tree_cpu_seconds(pid) for name, pid in pids.items()})


def spent(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """CPU seconds each tree used between two samples; processes born in between count from 0."""
    used = {}
    for name, now in after.per_component.items():
        earlier = before.per_component.get(name, {})
        used[name] = sum(max(0.0, s - earlier.get(key, 0.0)) for key, s in now.items())
    return used
