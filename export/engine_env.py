"""The TensorRT build's own virtualenv (``.venv-engine``), made from ``engine-requirements.txt``.

Standard library only, so that any Python 3.11 can run it (``python3.11 -m export.engine_env``).
The environment is rebuilt from scratch whenever the requirements file changes (its sha256 is the
stamp), with ``pip install --no-deps`` — only the pinned packages, nothing resolved in — and then
``pip check``, which fails if a pinned package needs something the file does not list.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = Path(__file__).resolve().parent / "engine-requirements.txt"
VENV = ROOT / ".venv-engine"
STAMP = ".stamp-requirements"
# Without it, the tensorrt-cu12 sdist starts a pip of its own against NVIDIA's index.
INSTALL_ENV = {"NVIDIA_TENSORRT_DISABLE_INTERNAL_PIP": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def requirements_digest(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def is_current(venv: Path, requirements: Path) -> bool:
    stamp = venv / STAMP
    return (
        venv_python(venv).exists()
        and stamp.is_file()
        and stamp.read_text().strip() == requirements_digest(requirements)
    )


def install_commands(venv: Path, requirements: Path, python: str) -> list[list[str]]:
    """What :func:`ensure` runs, in order (also printed by ``make gpu-check`` before it runs)."""
    py = str(venv_python(venv))
    return [
        [python, "-m", "venv", str(venv)],
        [py, "-m", "pip", "install", "--no-deps", "--no-input", "-r", str(requirements)],
        [py, "-m", "pip", "check"],
    ]


def ensure(venv: Path = VENV, requirements: Path = REQUIREMENTS, python: str = "") -> Path:
    """Create (or re-create) ``venv`` from ``requirements`` unless it is current; its python."""
    if is_current(venv, requirements):
        return venv_python(venv)
    if venv.exists():
        shutil.rmtree(venv)
    env = {**os.environ, **INSTALL_ENV}
    for cmd in install_commands(venv, requirements, python or sys.executable):
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, env=env)
    (venv / STAMP).write_text(requirements_digest(requirements) + "\n")
    return venv_python(venv)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.engine_env", description=__doc__)
    parser.add_argument("--venv", type=Path, default=VENV)
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS)
    parser.add_argument("--python", default=sys.executable, help="the interpreter for the venv")
    args = parser.parse_args(argv)
    try:
        print(ensure(args.venv, args.requirements, args.python))
    except subprocess.CalledProcessError as exc:
        print(f"error: {' '.join(exc.cmd)} exited {exc.returncode}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
