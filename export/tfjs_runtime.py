"""TensorFlow.js itself, as the parity reference of converted TF.js graph models.

The pure-JS packages (``@tensorflow/tfjs-core``, ``-converter``, ``-backend-cpu``; pinned with
their sha512 integrities in ``export/tfjs_runtime/package-lock.json``) are installed with
``npm ci --ignore-scripts`` into an ignored cache directory — not ``tfjs-node``, whose install
downloads a native binary. ``tfjs_reference.cjs`` runs the model on raw float32 inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.errors import ExportError, MissingFile

RUNTIME_SPEC = Path(__file__).with_name("tfjs_runtime")
SCRIPT = Path(__file__).with_name("tfjs_reference.cjs")
_LOCK = "package-lock.json"
_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.uint8}


class NodeUnavailable(ExportError):
    """Node.js / npm is not installed, so TF.js cannot run here."""


def node_status() -> tuple[bool, str]:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return False, f"`{tool}` is not on PATH (TF.js parity needs Node.js 18+ and npm)"
    return True, "ok"


def install_runtime(runtime_dir: Path) -> Path:
    """``npm ci`` the pinned packages into ``runtime_dir`` (skipped when the lock is unchanged);
    returns its ``node_modules``."""
    ok, reason = node_status()
    if not ok:
        raise NodeUnavailable(reason)
    modules = runtime_dir / "node_modules"
    stamp = modules / ".siteveil-lock"
    lock = (RUNTIME_SPEC / _LOCK).read_bytes()
    if stamp.is_file() and stamp.read_bytes() == lock:
        return modules
    runtime_dir.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", _LOCK):
        shutil.copyfile(RUNTIME_SPEC / name, runtime_dir / name)
    cmd = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--silent"]
    result = subprocess.run(cmd, cwd=runtime_dir, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ExportError(f"npm ci in {runtime_dir} failed:\n{result.stderr.strip()}")
    stamp.write_bytes(lock)
    return modules


@dataclass(frozen=True)
class TfjsRun:
    outputs: list[list[np.ndarray]]  # per input, per requested output
    ms: list[float]  # TF.js execute time per input
    versions: dict[str, str]
    backend: str


def run_tfjs(
    model_json: Path,
    inputs: Sequence[np.ndarray],
    outputs: Sequence[str],
    runtime_dir: Path,
    timeout_s: float = 900.0,
) -> TfjsRun:
    """Execute ``model_json`` on each input (one ``model.execute`` per array) with TF.js."""
    if not model_json.is_file():
        raise MissingFile(f"TF.js model not found: {model_json}")
    modules = install_runtime(runtime_dir)
    with tempfile.TemporaryDirectory(prefix="tfjs-parity-") as tmp:
        work = Path(tmp)
        request_inputs = []
        for i, x in enumerate(inputs):
            path = work / f"in_{i}.bin"
            path.write_bytes(np.ascontiguousarray(x, dtype="<f4").tobytes())
            request_inputs.append({"path": str(path), "shape": list(x.shape)})
        request = {
            "model": str(model_json.resolve()),
            "inputs": request_inputs,
            "outputs": list(outputs),
            "out_dir": str(work),
        }
        (work / "request.json").write_text(json.dumps(request))
        env = {**os.environ, "NODE_PATH": str(modules.resolve())}
        result = subprocess.run(
            ["node", str(SCRIPT), str(work / "request.json")],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise ExportError(
                f"TF.js failed on {model_json.name}:\n{result.stderr.strip()[-2000:]}"
            )
        report = json.loads((work / "results.json").read_text())
        arrays = [
            [
                np.fromfile(o["path"], dtype=_DTYPES[o["dtype"]]).reshape(o["shape"])
                for o in entry["outputs"]
            ]
            for entry in report["results"]
        ]
    return TfjsRun(
        outputs=arrays,
        ms=[float(e["ms"]) for e in report["results"]],
        versions=report["versions"],
        backend=report["backend"],
    )
