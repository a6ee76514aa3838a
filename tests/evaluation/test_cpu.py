"""CPU accounting over a whole process tree (a parent and the children it starts)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from evaluation import cpu

# A parent that starts a child; both spin until each has used 0.4 s of CPU, then sleep.
BURN = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.4: pass\n"
TREE = (
    "import subprocess, sys, time\n"
    f"child = subprocess.Popen([sys.executable, '-c', {BURN + 'time.sleep(60)'!r}])\n"
    f"{BURN}"
    "print('burnt', flush=True)\n"
    "time.sleep(60)\n"
)


def test_spent_counts_the_parent_and_its_children() -> None:
    proc = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True)
    try:
        before = cpu.sample({"tree": proc.pid})
        assert proc.stdout is not None and proc.stdout.readline().strip() == "burnt"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the child may still be burning: wait for its CPU
            used = cpu.spent(before, cpu.sample({"tree": proc.pid}))["tree"]
            if used >= 0.7:
                break
            time.sleep(0.1)
        # Both processes burnt 0.4 s each, minus what the parent had used before the sample.
        assert 0.7 <= used < 3.0
        idle = cpu.spent(cpu.sample({"tree": proc.pid}), cpu.sample({"tree": proc.pid}))
        assert idle["tree"] < 0.05
    finally:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        proc.wait()
