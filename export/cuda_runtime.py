"""The CUDA runtime (``libcudart``) that pip's NVIDIA wheels install, found and made findable.

Polygraphy's ``TrtRunner`` loads ``libcudart.so*`` by globbing the directories of
``LD_LIBRARY_PATH``, ``/usr/local/cuda/lib64``, ``/usr/lib`` and ``/lib`` (0.53 adds
``<site-packages>/nvidia/cuda_runtime/lib``), then falls back to ``ctypes.CDLL("libcudart.so")`` —
a name the wheels do not ship (they ship ``libcudart.so.12`` / ``.so.13``). On a machine without a
CUDA toolkit the comparison therefore failed. :func:`make_cudart_findable` puts the wheel's
library directory at the front of ``LD_LIBRARY_PATH`` in this process, which Polygraphy reads
when it first creates its CUDA wrapper. The layouts: ``nvidia-cuda-runtime-cu12`` →
``nvidia/cuda_runtime/lib/libcudart.so.12``; the CUDA 13 wheel → ``nvidia/cu13/lib/libcudart.so.13``.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

# Relative to a site-packages directory, newest layout first.
WHEEL_LIB_DIRS = ("nvidia/cu13/lib", "nvidia/cuda_runtime/lib")


def cudart_candidates(search_path: Iterable[str] | None = None) -> list[Path]:
    """Every ``libcudart.so.<major>`` the pip wheels put under an entry of ``search_path``."""
    found: list[Path] = []
    for entry in search_path if search_path is not None else sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        for rel in WHEEL_LIB_DIRS:
            found += sorted((Path(entry) / rel).glob("libcudart.so.*"))
    return list(dict.fromkeys(found))


def make_cudart_findable(search_path: Sequence[str] | None = None) -> Path | None:
    """Prepend the first wheel ``libcudart``'s directory to ``LD_LIBRARY_PATH``; return the
    library (None when no wheel provides one — a CUDA toolkit on the loader path may still)."""
    candidates = cudart_candidates(search_path)
    if not candidates:
        return None
    lib = candidates[0]
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
    if str(lib.parent) not in dirs:
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join([str(lib.parent), *dirs])
    return lib


def format_cuda_version(number: int) -> str:
    """``cudaRuntimeGetVersion``'s integer (1000 × major + 10 × minor) → ``"major.minor"``."""
    if number <= 0:
        raise ValueError(f"not a CUDA version number: {number}")
    return f"{number // 1000}.{(number % 1000) // 10}"


def cuda_runtime_version(lib: Path | None = None) -> str | None:
    """``major.minor`` of the CUDA runtime library (no GPU or driver needed); None when absent."""
    if lib is None:
        found = cudart_candidates()
        lib = found[0] if found else None
    # without a wheel, a CUDA toolkit's runtime on the loader path (e.g. inside NVIDIA's images)
    names = [str(lib)] if lib else ["libcudart.so", "libcudart.so.13", "libcudart.so.12"]
    handle = None
    for name in names:
        try:
            handle = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if handle is None:
        return None
    number = ctypes.c_int(0)
    if handle.cudaRuntimeGetVersion(ctypes.byref(number)) != 0:
        return None
    return format_cuda_version(number.value)
