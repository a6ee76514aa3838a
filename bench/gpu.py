"""``make bench-gpu``: Triton on the GPU with our TensorRT plan — images/s and SM activity per batch
size, and how many transformer workers keep the GPU at least 90 % busy.

Steps (each reuses what ``make engine`` / ``make gpu-check`` already do, see export/):

1. preflight: an NVIDIA GPU and a new enough driver (``export.gpu_driver``), and a ``tritonserver``
   with the ``tensorrt`` backend (``export.gpu_check.find_tritonserver``) — without them it exits 2
   with the reason before building anything;
2. the plan: ``python -m export.engine_cli`` in ``.venv-engine`` with a *bench* profile (batch
   1..32, opt 16; ``make engine``'s profile stops at 8), Polygraphy's comparison of the plan run
   through TensorRT's Python API with ONNX Runtime, and the bare plan's throughput per batch size;
3. Triton serving that plan (the model's own config.pbtxt with ``max_batch_size: 32``): its answers
   compared with ONNX Runtime (``export.gpu_check.exercise_triton``), then
4. load: for each batch size 1, 2, 4, 8, 16, 32, ``--clients`` processes send requests of that
   size back to back for ``--seconds``; then "transformer-like" clients — each one image per
   request, as a transformer worker sends — at 1, 2, 4 … ``--max-clients``, which Triton's dynamic
   batcher merges. ``nvidia-smi dmon -s u`` samples SM activity during each point;
5. workers for 90 %: the lowest images/s at which SM activity reached 90 %, divided by one
   transformer worker's images/s from ``bench-output/report.json`` (``make bench``);
6. ``gpu-bench-output/report.json`` (schema ``siteveil.bench-gpu/1``) and ``report.md``.

Exit codes: 0 done, 1 a step failed (parity, serving), 2 it cannot run here (reason on stderr).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.plan import PlanRefused, parse_bench_report, workers_to_feed_gpu
from export import engine_env
from export.gpu_check import (
    Model,
    _config_fields,
    engine_command,
    exercise_triton,
    find_tritonserver,
    triton_command,
    wait_for_triton,
)
from export.gpu_driver import build_driver_verdict, query_gpus
from export.serving_image import SERVING, version_tuple

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "siteveil.bench-gpu/1"
BATCHES = (1, 2, 4, 8, 16, 32)
BENCH_MAX_BATCH = 32
BUSY_PCT = 90.0
MODEL = "person_segmenter"


# --- pure parts ----------------------------------------------------------------------------------


def parse_dmon(text: str) -> list[dict[str, float | None]]:
    """Rows of ``nvidia-smi dmon`` output as {column: value}; ``-`` (not supported) is None.

    The layout (nvidia-smi(1), "dmon"; e.g. driver 5xx with ``-s u``)::

        # gpu    sm   mem   enc   dec   jpg   ofa
        # Idx     %     %     %     %     %     %
            0    67    40     0     0     -     -

    Older drivers print only ``gpu sm mem enc dec``; ``-o DT`` adds ``#Date Time`` columns in
    front (``#YYYYMMDD HH:MM:SS Idx``). The first ``#`` line names the columns, the second gives
    units; the header repeats every so often. Columns are read by name, not position.
    """
    columns: list[str] | None = None
    rows: list[dict[str, float | None]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            names = stripped.lstrip("#").split()
            if names and names[0].lower() in ("gpu", "date", "time") and "sm" in names:
                columns = [n.lower() for n in names]
            continue
        if columns is None:
            continue
        fields = stripped.split()
        if len(fields) != len(columns):
            continue  # a truncated line (the process stopped mid-write) or a message
        row: dict[str, float | None] = {}
        for name, field in zip(columns, fields, strict=True):
            if name in ("date", "time"):
                continue
            try:
                row[name] = float(field)
            except ValueError:
                row[name] = None
        if row.get("gpu") is not None:
            rows.append(row)
    return rows


def mean_sm(
    rows: Sequence[Mapping[str, float | None]], gpu: int = 0, skip: int = 1
) -> float | None:
    """Mean SM activity (%) of one GPU over the samples, the first ``skip`` left out (the load
    was still starting). None when there is no sample with a value."""
    values = [r["sm"] for r in rows if r.get("gpu") == gpu and r.get("sm") is not None]
    values = values[skip:] if len(values) > skip else values
    return round(sum(v for v in values if v is not None) / len(values), 1) if values else None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LoadPoint:
    """One measurement: ``clients`` sending requests of ``batch`` images for ``seconds``."""

    batch: int
    clients: int
    requests: int
    images: int
    seconds: float
    p50_ms: float
    p99_ms: float
    gpu_util_pct: float | None
    errors: int = 0

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "images_per_s": round(self.images_per_s, 1)}


def rate_for_busy(points: Sequence[LoadPoint], busy_pct: float = BUSY_PCT) -> float | None:
    """The lowest images/s at which SM activity was at least ``busy_pct``; None if never."""
    busy = [p.images_per_s for p in points if (p.gpu_util_pct or 0) >= busy_pct and p.images]
    return min(busy) if busy else None


@dataclass(frozen=True)
class WorkersVerdict:
    workers: int | None
    gpu_images_per_s: float | None  # the rate that keeps the GPU >= 90 % busy
    basis: str


def workers_for_busy_gpu(
    transformer_like: Sequence[LoadPoint],
    batches: Sequence[LoadPoint],
    per_worker_images_per_s: float | None,
    busy_pct: float = BUSY_PCT,
) -> WorkersVerdict:
    """Transformer workers whose images keep the GPU ``busy_pct`` busy.

    The rate is taken from the transformer-like points (single-image requests, as our workers
    send them) when one of them reached ``busy_pct``, else from the batch points, else the highest
    rate measured (the GPU never got that busy: the clients could not drive it harder)."""
    rate, basis = rate_for_busy(transformer_like, busy_pct), "transformer-like clients"
    if rate is None:
        rate, basis = rate_for_busy(batches, busy_pct), "batched clients"
    if rate is None:
        measured = [p.images_per_s for p in (*transformer_like, *batches) if p.images]
        if not measured:
            return WorkersVerdict(None, None, "nothing was measured")
        rate = max(measured)
        basis = f"SM activity never reached {busy_pct:g} %: the highest rate measured"
    if not per_worker_images_per_s:
        return WorkersVerdict(
            None, rate, basis + "; no transformer images/s per worker (no bench report)"
        )
    workers = workers_to_feed_gpu(rate, per_worker_images_per_s, 1.0)
    return WorkersVerdict(
        workers,
        rate,
        f"{rate:.1f} images/s ({basis}) / {per_worker_images_per_s:.2f} images/s per worker",
    )


def bench_config(config_text: str, max_batch: int = BENCH_MAX_BATCH) -> str:
    """The model's Triton config with ``max_batch_size`` raised to the bench profile's and the
    dynamic batcher's preferred sizes to the powers of two up to it (the rest unchanged)."""
    text, n = re.subn(
        r"^max_batch_size:\s*\d+", f"max_batch_size: {max_batch}", config_text, flags=re.M
    )
    if n != 1:
        raise ValueError("config.pbtxt has no max_batch_size line")
    preferred = [b for b in (4, 8, 16, 32) if b <= max_batch]
    lines = "".join(f"  preferred_batch_size: {b}\n" for b in preferred)
    text = re.sub(r"(?:^  preferred_batch_size:\s*\d+\n)+", lines, text, flags=re.M)
    # The warm-up and the plan's metadata stay as they are; Triton checks the plan's profile
    # covers max_batch_size when it loads it.
    return text


def markdown(report: Mapping[str, Any]) -> str:
    lines = [
        f"GPU: {report['gpu']} — Triton {report.get('triton', {}).get('server_version', '?')}, "
        f"TensorRT plan (batch profile 1..{BENCH_MAX_BATCH}), {report['clients']} clients, "
        f"{report['seconds']} s per point",
        "",
        "| batch | clients | images/s | p50 ms | p99 ms | SM activity % |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in (*report["batches"], *report["transformer_like"]):
        util = row["gpu_util_pct"]
        lines.append(
            f"| {row['batch']} | {row['clients']} | {row['images_per_s']} | {row['p50_ms']} | "
            f"{row['p99_ms']} | {'n/a' if util is None else util} |"
        )
    lines += [
        "",
        f"Transformer workers that keep the GPU >= {BUSY_PCT:g} % busy: "
        f"**{report['workers_for_90pct'] if report['workers_for_90pct'] is not None else 'n/a'}** "
        f"({report['workers_basis']}).",
    ]
    return "\n".join(lines) + "\n"


# --- the edges: load, dmon, Triton ---------------------------------------------------------------


def _client(args: tuple[str, str, int, float, float, int]) -> tuple[list[float], int]:
    """One load process: requests of ``batch`` images back to back until ``stop``; latencies (s)
    of those started after ``start``, and the errors."""
    endpoint, model, batch, start, stop, seed = args
    import numpy as np
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(endpoint, connection_timeout=30, network_timeout=60)
    meta = client.get_model_metadata(model)
    spec = meta["inputs"][0]
    shape = [batch, *(int(d) for d in spec["shape"][1:])]
    data = np.random.default_rng(seed).random(shape, dtype=np.float32)
    item = httpclient.InferInput(spec["name"], shape, spec["datatype"])
    item.set_data_from_numpy(data, binary_data=True)
    out = httpclient.InferRequestedOutput(meta["outputs"][0]["name"], binary_data=True)
    latencies: list[float] = []
    errors = 0
    while (now := time.time()) < stop:
        try:
            client.infer(model, [item], outputs=[out])
        except Exception:  # noqa: BLE001 - counted; the point reports its errors
            errors += 1
            continue
        if now >= start:
            latencies.append(time.time() - now)
    client.close()
    return latencies, errors


@contextmanager
def dmon(gpu: int, seconds: int) -> Iterator[list[str]]:
    """``nvidia-smi dmon -s u`` on one GPU for ``seconds`` one-second samples while the block
    runs; the yielded list receives its output when the block ends. It exits by itself
    (``-c``), so its output is complete (a pipe would buffer it if it were killed)."""
    out: list[str] = []
    proc = subprocess.Popen(
        ["nvidia-smi", "dmon", "-s", "u", "-d", "1", "-c", str(seconds), "-i", str(gpu)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield out
    finally:
        try:
            text, _ = proc.communicate(timeout=seconds + 15)
        except subprocess.TimeoutExpired:
            proc.kill()
            text, _ = proc.communicate()
        out.append(text)


def _load_init() -> None:
    """Each load process imports its client once, before any clock starts."""
    import numpy  # noqa: F401
    import tritonclient.http  # noqa: F401


def _ready(_: int) -> int:
    return os.getpid()


@contextmanager
def load_pool(size: int) -> Iterator[Any]:
    """``size`` spawned load processes, reused by every point (spawning and importing 64
    processes per point would eat into the measured window)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(size, initializer=_load_init) as pool:
        pool.map(_ready, range(size), chunksize=1)
        yield pool


def drive(
    pool: Any,
    endpoint: str,
    batch: int,
    clients: int,
    seconds: float,
    gpu: int | None,
    warmup: float = 1.0,
    model: str = MODEL,
) -> LoadPoint:
    """``clients`` processes of ``pool`` (at least that many) send ``batch``-image requests back
    to back; the first ``warmup`` seconds are not counted; SM activity from dmon when ``gpu``.

    Each task runs until ``stop``, so an idle process takes each: all run at once."""
    start = time.time() + 1.0 + warmup  # one second to hand out the tasks and connect
    stop = start + seconds
    jobs = [(endpoint, model, batch, start, stop, seed) for seed in range(clients)]
    pending = pool.map_async(_client, jobs, chunksize=1)
    dmon_text: list[str] = []
    if gpu is not None:
        time.sleep(max(0.0, start - time.time()))
        with dmon(gpu, max(2, int(seconds))) as dmon_text:
            results = pending.get(timeout=seconds + 120)
    else:
        results = pending.get(timeout=seconds + 120)
    latencies = [lat for lats, _ in results for lat in lats]
    errors = sum(e for _, e in results)
    util = mean_sm(parse_dmon("".join(dmon_text)), gpu) if gpu is not None else None
    ms = [x * 1000 for x in latencies] or [0.0]
    return LoadPoint(
        batch=batch,
        clients=clients,
        requests=len(latencies),
        images=len(latencies) * batch,
        seconds=seconds,
        p50_ms=round(percentile(ms, 50), 2),
        p99_ms=round(percentile(ms, 99), 2),
        gpu_util_pct=util,
        errors=errors,
    )


@contextmanager
def triton_serving(
    binary: Path, backends: Path, repo: Path, log_path: Path, ready_s: float = 180
) -> Iterator[str]:
    """A tritonserver (the chart's release, tensorrt backend) on free 127.0.0.1 ports; yields
    its HTTP endpoint once ready. The same flags as ``export.gpu_check.serve_with_triton``."""
    cmd, http = triton_command(binary, backends, repo)
    print("+", shlex.join(cmd), flush=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            why = wait_for_triton(proc, http, time.monotonic() + ready_s)
            if why is not None:
                raise RuntimeError(
                    f"tritonserver {why} (waited up to {ready_s:g} s); see {log_path}"
                )
            yield f"127.0.0.1:{http}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def per_worker_rate(args: argparse.Namespace) -> tuple[float | None, str]:
    if args.per_worker_images_per_s:
        return args.per_worker_images_per_s, "--per-worker-images-per-s (an assumption)"
    if not args.bench_report.is_file():
        return None, f"no {args.bench_report} (run `make bench`)"
    try:
        m = parse_bench_report(
            json.loads(args.bench_report.read_text()), args.resolution, str(args.bench_report)
        )
    except (PlanRefused, json.JSONDecodeError) as exc:
        return None, f"{args.bench_report} unusable: {exc}"
    return m.per_worker_images_per_s, (
        f"{args.bench_report} ({args.resolution}: {m.images_per_s:g} images/s / "
        f"{m.workers} workers)"
    )


class CannotRun(Exception):
    """This machine cannot run the GPU bench (exit 2 with this reason, nothing built)."""


@dataclass(frozen=True)
class Ready:
    gpu_index: int
    gpu_name: str
    tritonserver: Path
    backends: Path


def preflight() -> Ready:
    """The GPU, its driver and a tritonserver with the tensorrt backend, or CannotRun."""
    gpus, why = query_gpus()
    if not gpus:
        raise CannotRun(f"no NVIDIA GPU here, nothing was run: {why}")
    verdict = build_driver_verdict(gpus[0].driver, version_tuple(SERVING.cuda)[0])
    if not verdict.ok:
        raise CannotRun(verdict.message)
    binary, backends, reason = find_tritonserver()
    if binary is None or backends is None:
        raise CannotRun(reason)
    return Ready(gpus[0].index, gpus[0].name, binary, backends)


def run(args: argparse.Namespace) -> int:
    try:
        ready = preflight()
    except CannotRun as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gpu_index, binary, backends = ready.gpu_index, ready.tritonserver, ready.backends
    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    config = out / "config.pbtxt"
    config.write_text(bench_config(args.config.read_text()))
    max_batch, dims = _config_fields(config.read_text())
    model = Model(MODEL, args.onnx, config, max_batch, dims)
    # 2. the plan, compared with ONNX Runtime, timed bare: `make engine`'s own tool
    python = engine_env.ensure(python=args.python)
    cache = ROOT / ".cache/export/engine/timing.cache"
    cmd = engine_command(python, model, out, cache)
    print("+", shlex.join(cmd), flush=True)
    built = subprocess.run(cmd, cwd=ROOT, check=False)
    engine_report = out / MODEL / "engine.json"
    engine = json.loads(engine_report.read_text()) if engine_report.is_file() else {}
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "gpu": ready.gpu_name,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "clients": args.clients,
        "seconds": args.seconds,
        "engine": {"command": shlex.join(cmd), "exit_code": built.returncode, **engine},
        "batches": [],
        "transformer_like": [],
        "workers_for_90pct": None,
        "workers_basis": "",
    }
    if built.returncode != 0:
        report["workers_basis"] = "the plan was not built or did not match ONNX Runtime"
        return _finish(report, out, 1, started)
    # 3. + 4. Triton serving the plan
    repo = out / "triton-repository"
    shutil.rmtree(repo, ignore_errors=True)
    (repo / MODEL / "1").mkdir(parents=True)
    shutil.copyfile(config, repo / MODEL / "config.pbtxt")
    shutil.copyfile(out / MODEL / "model.plan", repo / MODEL / "1" / "model.plan")
    try:
        with triton_serving(binary, backends, repo, out / "tritonserver.log") as endpoint:
            deadline = time.monotonic() + 120
            report["triton"] = exercise_triton(endpoint, [model], deadline, 0.5)
            with load_pool(max(args.clients, args.max_clients)) as pool:
                for batch in BATCHES:
                    point = drive(pool, endpoint, batch, args.clients, args.seconds, gpu_index)
                    print(f"batch {batch:>2} x {args.clients} clients: {point.images_per_s:.1f} "
                          f"images/s, p99 {point.p99_ms} ms, SM {point.gpu_util_pct} %",
                          flush=True)  # fmt: skip
                    report["batches"].append(point.to_dict())
                clients = 1
                while clients <= args.max_clients:
                    point = drive(pool, endpoint, 1, clients, args.seconds, gpu_index)
                    print(f"transformer-like x {clients:>3}: {point.images_per_s:.1f} images/s, "
                          f"p99 {point.p99_ms} ms, SM {point.gpu_util_pct} %", flush=True)  # fmt: skip
                    report["transformer_like"].append(point.to_dict())
                    clients *= 2
    except RuntimeError as exc:
        report["workers_basis"] = f"Triton did not serve the plan: {exc}"
        return _finish(report, out, 1, started)
    per_worker, source = per_worker_rate(args)
    verdict = workers_for_busy_gpu(
        [_point(r) for r in report["transformer_like"]],
        [_point(r) for r in report["batches"]],
        per_worker,
    )
    report["per_worker_images_per_s"] = per_worker
    report["per_worker_source"] = source
    report["gpu_images_per_s_for_90pct"] = verdict.gpu_images_per_s
    report["workers_for_90pct"] = verdict.workers
    report["workers_basis"] = verdict.basis
    errors = sum(r["errors"] for r in (*report["batches"], *report["transformer_like"]))
    parity = report.get("triton", {}).get("models", {}).get(MODEL, {})
    ok = errors == 0 and parity.get("max_abs_error_vs_onnxruntime", 1.0) <= args.atol
    return _finish(report, out, 0 if ok else 1, started)


def _point(row: Mapping[str, Any]) -> LoadPoint:
    fields = {k: row[k] for k in LoadPoint.__dataclass_fields__}
    return LoadPoint(**fields)


def _finish(report: dict[str, Any], out: Path, code: int, started: float) -> int:
    report["duration_s"] = round(time.monotonic() - started, 1)
    report["passed"] = code == 0
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    if report["batches"]:
        (out / "report.md").write_text(markdown(report))
        print(markdown(report))
    print(f"wrote {out / 'report.json'} ({'passed' if code == 0 else 'FAILED'})")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.split("\n")[0])
    p.add_argument("--onnx", type=Path, default=ROOT / "model_repository" / MODEL / "1/model.onnx")
    p.add_argument(
        "--config", type=Path, default=ROOT / "model_repository" / MODEL / "config.pbtxt"
    )
    p.add_argument("--output", type=Path, default=ROOT / "gpu-bench-output")
    p.add_argument("--bench-report", type=Path, default=ROOT / "bench-output" / "report.json")
    p.add_argument("--resolution", choices=("1080p", "4k"), default="1080p")
    p.add_argument("--per-worker-images-per-s", type=float, help="instead of the bench report")
    p.add_argument("--clients", type=int, default=8, help="load processes per batch size")
    p.add_argument("--max-clients", type=int, default=64, help="transformer-like: 1, 2, 4 … this")
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per point")
    p.add_argument("--atol", type=float, default=2e-2, help="Triton vs ONNX Runtime")
    p.add_argument("--python", default=sys.executable, help="interpreter for .venv-engine")
    args = p.parse_args(argv)
    if args.clients < 1 or args.max_clients < 1 or args.seconds <= 0:
        p.error("--clients, --max-clients and --seconds must be positive")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
