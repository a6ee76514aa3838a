"""``make gpu-check``: the whole TensorRT path on a machine with an NVIDIA GPU, in one run.

1. the GPU and driver (``nvidia-smi``) against the build's and the serving image's driver floors;
2. the isolated build environment (``.venv-engine`` from ``export/engine-requirements.txt``);
3. for every model of the repository (a directory with ``<n>/model.onnx`` and ``config.pbtxt``):
   an FP16 plan with the Triton config's batch range, Polygraphy's comparison with ONNX Runtime and
   the plan's throughput per batch size (``python -m export.engine_cli`` in that environment);
4. the plans served by a Triton of the chart's release, if one with the ``tensorrt`` backend is on
   this machine (inside ``nvcr.io/nvidia/tritonserver:24.10-py3`` it is), each output compared with
   ONNX Runtime and timed per batch size — otherwise the reason is recorded;
5. ``gpu-output/report.json`` with versions, parity figures and throughput.

Without a GPU it prints these steps with their commands and exits 2 with the reason. The module
imports only the standard library at start-up (``--preflight`` runs under a bare Python); the
serving step needs ``tritonclient`` and ``onnxruntime`` from the main virtualenv.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from export import engine_env
from export.gpu_driver import build_driver_verdict, query_gpus, serving_driver_verdict
from export.serving_image import SERVING, version_tuple

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 540  # the "under 10 minutes", with room for Triton's shutdown
LIB_DIRS = (Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/local/tensorrt/lib"), Path("/usr/lib"))


@dataclass(frozen=True)
class Model:
    name: str
    onnx: Path
    config: Path
    max_batch: int
    input_dims: tuple[tuple[str, tuple[int, ...]], ...]  # from config.pbtxt, static ones only

    @property
    def batches(self) -> tuple[int, ...]:
        return tuple(b for b in (1, 2, 4, 8, 16, 32) if b <= self.max_batch) or (1,)


def _config_fields(text: str) -> tuple[int, tuple[tuple[str, tuple[int, ...]], ...]]:
    """``max_batch_size`` and each input's ``dims`` from a Triton ``config.pbtxt`` (text format)."""
    match = re.search(r"^max_batch_size:\s*(\d+)", text, re.M)
    max_batch = int(match.group(1)) if match else 1
    inputs = []
    for block in re.finditer(r"^input\s*\{(.*?)^\}", text, re.M | re.S):
        name = re.search(r'name:\s*"([^"]+)"', block.group(1))
        dims = tuple(int(d) for d in re.findall(r"dims:\s*(-?\d+)", block.group(1)))
        if name and dims and all(d > 0 for d in dims):
            inputs.append((name.group(1), dims))
    return max_batch, tuple(inputs)


def discover_models(repository: Path) -> list[Model]:
    """Every model directory with a ``config.pbtxt`` and a version holding ``model.onnx``
    (its newest such version)."""
    models = []
    for model_dir in sorted(p for p in repository.iterdir() if p.is_dir()):
        config = model_dir / "config.pbtxt"
        versions = sorted(
            (int(v.name) for v in model_dir.iterdir() if v.name.isdigit()), reverse=True
        )
        onnx = next(
            (model_dir / str(v) / "model.onnx" for v in versions
             if (model_dir / str(v) / "model.onnx").is_file()),
            None,
        )  # fmt: skip
        if onnx is None or not config.is_file():
            continue
        max_batch, dims = _config_fields(config.read_text())
        models.append(Model(model_dir.name, onnx, config, max(max_batch, 1), dims))
    return models


def engine_command(python: Path, model: Model, out_dir: Path, cache: Path) -> list[str]:
    cmd = [
        str(python), "-m", "export.engine_cli", "--onnx", str(model.onnx),
        "--output", str(out_dir / model.name / "model.plan"),
        "--min-batch", "1", "--opt-batch", str(max(1, model.max_batch // 2)),
        "--max-batch", str(model.max_batch), "--timing-cache", str(cache),
        "--compare", "--throughput", ",".join(map(str, model.batches)),
        "--report", str(out_dir / model.name / "engine.json"),
    ]  # fmt: skip
    for name, dims in model.input_dims:
        cmd += ["--input-dims", f"{name}:{'x'.join(map(str, dims))}"]
    return cmd


def find_tritonserver() -> tuple[Path | None, Path | None, str]:
    """(tritonserver, its backend directory, why not): one with the ``tensorrt`` backend."""
    candidates = []
    if os.environ.get("TRITONSERVER"):
        candidates.append(Path(os.environ["TRITONSERVER"]))
    candidates.append(Path("/opt/tritonserver/bin/tritonserver"))  # inside the NGC image
    candidates += sorted(
        (ROOT / ".venv-triton").glob(
            "lib/python3*/site-packages/pytriton/tritonserver/bin/tritonserver"
        )
    )
    notes = []
    for binary in candidates:
        if not binary.is_file():
            notes.append(f"{binary}: absent")
            continue
        backends = binary.parent.parent / "backends"
        present = sorted(p.name for p in backends.iterdir()) if backends.is_dir() else []
        if "tensorrt" in present:
            return binary, backends, ""
        notes.append(f"{binary}: no tensorrt backend (backends: {', '.join(present) or 'none'})")
    return (
        None,
        None,
        (
            "no tritonserver with the tensorrt backend: "
            + "; ".join(notes)
            + f". nvidia-pytriton's "
            f"tritonserver ships only the python backend; run `make gpu-check` inside {SERVING.image} "
            "(or set TRITONSERVER=/path/to/bin/tritonserver of that release) to serve the plans"
        ),
    )


def libnvinfer_version(dirs: Sequence[Path] = LIB_DIRS) -> str | None:
    """TensorRT's version from the ``libnvinfer.so.<x.y.z>`` file name (e.g. inside the Triton
    image, which installs it under ``/usr/lib/x86_64-linux-gnu``); None when there is none."""
    versions = []
    for directory in dirs:
        for lib in directory.glob("libnvinfer.so.*.*"):
            suffix = lib.name.removeprefix("libnvinfer.so.")
            if all(part.isdigit() for part in suffix.split(".")):
                versions.append(tuple(int(p) for p in suffix.split(".")))
    return ".".join(map(str, max(versions))) if versions else None


def planned_steps(models: Sequence[Model], out_dir: Path, python: str) -> list[str]:
    venv = engine_env.VENV
    steps = ["nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total "
             "--format=csv,noheader,nounits  (driver floors: CUDA 12.x 525.60.13+; "
             f"{SERVING.image} r{SERVING.driver_min}+)"]  # fmt: skip
    env = " ".join(f"{k}={v}" for k, v in engine_env.INSTALL_ENV.items())
    steps += [
        (f"{env} " if "install" in c else "") + shlex.join(c)
        for c in engine_env.install_commands(venv, engine_env.REQUIREMENTS, python)
    ]
    cache = ROOT / ".cache/export/engine/timing.cache"
    for model in models:
        steps.append(
            shlex.join(engine_command(engine_env.venv_python(venv), model, out_dir, cache))
        )
    binary, _, why = find_tritonserver()
    steps.append(
        f"serve the plans with {binary} (expects Triton {SERVING.triton_server}), compare with ONNX "
        "Runtime, time per batch size"
        if binary
        else f"serving step would be skipped: {why}"
    )
    steps.append(f"write {out_dir / 'report.json'}")
    return steps


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def triton_command(binary: Path, backends: Path, repo: Path) -> tuple[list[str], int]:
    """tritonserver on free 127.0.0.1 ports only, and its HTTP port."""
    http_port, grpc, metrics = _free_port(), _free_port(), _free_port()
    return [
        str(binary), f"--model-repository={repo}", f"--backend-directory={backends}",
        "--http-address=127.0.0.1", f"--http-port={http_port}", f"--grpc-port={grpc}",
        "--grpc-address=127.0.0.1", f"--metrics-port={metrics}", "--allow-sagemaker=false",
    ], http_port  # fmt: skip


def wait_for_triton(proc: subprocess.Popen[bytes], http_port: int, ready_by: float) -> str | None:
    """None once Triton answers ready; else why not ("exited N", or "not ready in time" once
    `ready_by`, a time.monotonic() value, has passed)."""
    import urllib.request

    url = f"http://127.0.0.1:{http_port}/v2/health/ready"
    while True:
        if proc.poll() is not None:
            return f"exited {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return None
        except OSError:
            pass
        if time.monotonic() > ready_by:
            return "not ready in time"
        time.sleep(1)


def serve_with_triton(models: Sequence[Model], out_dir: Path, deadline: float) -> dict[str, Any]:
    """Serve every built plan with the tensorrt backend; compare and time each model."""
    binary, backends, why = find_tritonserver()
    if binary is None or backends is None:
        return {"status": "skipped", "reason": why}
    import shutil

    repo = out_dir / "triton-repository"
    shutil.rmtree(repo, ignore_errors=True)
    served = []
    for model in models:
        plan = out_dir / model.name / "model.plan"
        if plan.is_file():
            (repo / model.name / "1").mkdir(parents=True)
            shutil.copyfile(model.config, repo / model.name / "config.pbtxt")
            shutil.copyfile(plan, repo / model.name / "1" / "model.plan")
            served.append(model)
    if not served:
        return {"status": "skipped", "reason": "no plan was built"}
    log_path = out_dir / "tritonserver.log"
    cmd, http = triton_command(binary, backends, repo)
    result: dict[str, Any] = {"command": shlex.join(cmd), "log": str(log_path)}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            not_ready = wait_for_triton(proc, http, min(deadline, time.monotonic() + 180))
            if not_ready is not None:
                return {**result, "status": "failed", "reason": not_ready}
            image_trt = libnvinfer_version()
            result["image_tensorrt"] = image_trt
            result["image_tensorrt_matches"] = image_trt is not None and version_tuple(
                image_trt, 3
            ) == version_tuple(SERVING.tensorrt, 3)
            result.update(exercise_triton(f"127.0.0.1:{http}", served, deadline))
            result["status"] = "served"
            return result
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def exercise_triton(
    endpoint: str, models: Sequence[Model], deadline: float, seconds_per_batch: float = 1.0
) -> dict[str, Any]:
    """Against a running Triton (``host:port``, HTTP): its version, then per model and batch size
    the largest difference from ONNX Runtime on the same random input and the calls per second."""
    import urllib.request

    import numpy as np
    import onnxruntime as ort
    import tritonclient.http as httpclient
    from tritonclient.utils import triton_to_np_dtype

    with urllib.request.urlopen(f"http://{endpoint}/v2", timeout=5) as r:
        version = json.loads(r.read())["version"]
    result: dict[str, Any] = {
        "server_version": version,
        "matches_chart": version == SERVING.triton_server,
        "models": {},
    }
    client = httpclient.InferenceServerClient(endpoint)
    rng = np.random.default_rng(0)
    for model in models:
        session = ort.InferenceSession(str(model.onnx), providers=["CPUExecutionProvider"])
        meta = client.get_model_metadata(model.name)
        out_name = meta["outputs"][0]["name"]
        rows, max_err = [], 0.0
        for batch in model.batches:
            if time.monotonic() > deadline:
                break
            feeds, inputs = {}, []
            for spec in meta["inputs"]:
                dims = [int(d) for d in spec["shape"][1:]]
                if any(d <= 0 for d in dims):
                    dims = list(dict(model.input_dims).get(spec["name"], ()))
                dtype = triton_to_np_dtype(spec["datatype"])
                shape = (batch, *dims)
                array = (
                    rng.random(shape).astype(dtype)
                    if np.issubdtype(dtype, np.floating)
                    else rng.integers(0, 256, shape).astype(dtype)
                )
                feeds[spec["name"]] = array
                item = httpclient.InferInput(spec["name"], list(shape), spec["datatype"])
                item.set_data_from_numpy(array, binary_data=True)
                inputs.append(item)
            expected = np.asarray(session.run([out_name], feeds)[0], dtype=np.float64)
            got = client.infer(model.name, inputs).as_numpy(out_name)
            max_err = max(max_err, float(np.max(np.abs(got.astype(np.float64) - expected))))
            times: list[float] = []
            stop = time.monotonic() + seconds_per_batch
            while time.monotonic() < stop or len(times) < 5:
                started = time.perf_counter()
                client.infer(model.name, inputs)
                times.append(time.perf_counter() - started)
            median = sorted(times)[len(times) // 2]
            rows.append({"batch": batch, "calls": len(times),
                         "median_ms": round(median * 1e3, 3),
                         "images_per_s": round(batch / median, 1)})  # fmt: skip
        result["models"][model.name] = {
            "max_abs_error_vs_onnxruntime": max_err,
            "throughput_http": rows,
        }
    return result


def run_check(args: argparse.Namespace) -> int:
    started = time.monotonic()
    deadline = started + args.budget
    out_dir: Path = args.output
    models = discover_models(args.repository) if args.repository.is_dir() else []
    gpus, why = query_gpus()
    if not gpus or not args.preflight:
        print("make gpu-check will:" if gpus else "make gpu-check would (on a GPU machine):")
        for n, step in enumerate(planned_steps(models, out_dir, args.python), 1):
            print(f"  {n}. {step}")
    if not gpus:
        print(f"error: no NVIDIA GPU here, nothing was run: {why}", file=sys.stderr)
        return 2
    build = build_driver_verdict(gpus[0].driver, version_tuple(SERVING.cuda)[0])
    serving = serving_driver_verdict(gpus[0].driver)
    print(f"GPU 0: {gpus[0].name} (cc {gpus[0].compute_capability}), {build.message}")
    if not build.ok:
        print(f"error: {build.message}", file=sys.stderr)
        return 2
    if args.preflight:
        return 0
    if not models:
        print(f"error: no model with config.pbtxt and <n>/model.onnx in {args.repository} "
              "(run `make model`)", file=sys.stderr)  # fmt: skip
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "serving_image": {"image": SERVING.image, "tensorrt": SERVING.tensorrt,
                          "cuda": SERVING.cuda, "triton_server": SERVING.triton_server},
        "gpus": [g.to_dict() for g in gpus],
        "driver": {"build": build.message, "serving": serving.message,
                   "serving_ok": serving.ok},
        "models": {},
    }  # fmt: skip
    python = engine_env.ensure(python=args.python)
    freeze = subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=False
    )
    report["engine_env"] = {"python": str(python), "packages": freeze.stdout.split()}
    cache = ROOT / ".cache/export/engine/timing.cache"
    all_ok = True
    for model in models:
        remaining = deadline - time.monotonic()
        entry: dict[str, Any] = {"onnx": str(model.onnx), "batches": list(model.batches)}
        if remaining < 30:
            entry.update(status="skipped", reason="out of time budget")
            all_ok = False
        else:
            cmd = engine_command(python, model, out_dir, cache)
            print("+", shlex.join(cmd), flush=True)
            try:
                done = subprocess.run(cmd, cwd=ROOT, timeout=remaining, check=False)
                code = done.returncode
            except subprocess.TimeoutExpired:
                code = -1
            engine_report = out_dir / model.name / "engine.json"
            if engine_report.is_file():
                entry.update(json.loads(engine_report.read_text()))
            entry["status"] = {0: "passed", 1: "parity failed", -1: "timed out"}.get(
                code, "build failed"
            )
            all_ok &= code == 0
        report["models"][model.name] = entry
    report["triton"] = serve_with_triton(models, out_dir, deadline)
    all_ok &= report["triton"]["status"] in ("served", "skipped")
    report["duration_s"] = round(time.monotonic() - started, 1)
    report["passed"] = all_ok
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out_dir / 'report.json'} ({'passed' if all_ok else 'FAILED'}, "
          f"{report['duration_s']} s; Triton: {report['triton']['status']})")  # fmt: skip
    return 0 if all_ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.gpu_check", description=__doc__)
    parser.add_argument("--repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--output", type=Path, default=ROOT / "gpu-output")
    parser.add_argument("--python", default=sys.executable, help="interpreter for .venv-engine")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the run")
    parser.add_argument(
        "--preflight", action="store_true", help="only check the GPU and driver (exit 0 if fit)"
    )
    return run_check(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
