"""One bench run: moto + Triton once, then rounds alternating between the transformers.

Per round and transformer: clear `results/`, start it, let it go idle, warm it up with frames
that are not counted, send every 1080p frame then every 4K frame (each resolution a measured batch: latency
per request, CPU of the transformer's, Triton's and moto's process trees, peak RSS per worker),
stop it, check every result. The codec floor is measured on the same frames before any server
starts.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import checks, codec_floor, procs, stats
from bench.frames import Frame, make_frames
from bench.load import Upload, drive
from evaluation import cpu
from stack.aws import aws_env, client, start_moto
from stack.config import AwsLayout
from stack.processes import free_port, stop
from stack.triton import start_triton

TENANT = "bench"
DAY = ("2026", "01", "15")
MODEL = "person_segmenter"


@dataclass(frozen=True, slots=True)
class Options:
    images: dict[str, int]  # resolution → frames per round
    clients: int = 4
    workers: int = 2
    rounds: int = 3
    only: tuple[str, ...] = stats.TRANSFORMERS
    output: Path = Path("bench-output")
    model_repository: Path = procs.REPO_ROOT / "model_repository"
    triton_venv: Path = procs.REPO_ROOT / ".venv-triton"
    triton_config: str = "cpu"
    kserve_venv: Path = procs.KSERVE_VENV
    python: Path = Path(sys.executable)
    seed: int = 11

    def __post_init__(self) -> None:
        if min(self.clients, self.workers, self.rounds) < 1:
            raise ValueError("clients, workers and rounds must be >= 1")
        if any(n < 0 for n in self.images.values()) or not any(self.images.values()):
            raise ValueError("give at least one image at some resolution")
        unknown = set(self.only) - set(stats.TRANSFORMERS)
        if unknown or not self.only:
            raise ValueError(f"--only takes some of {', '.join(stats.TRANSFORMERS)}")


@dataclass
class Measured:
    """What the rounds produced: per transformer, per resolution, the rounds' figures."""

    rounds: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    not_run: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # images not anonymized, for the log


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def upload_frames(s3: Any, bucket: str, frames: Sequence[Frame]) -> list[Upload]:
    yyyy, mm, dd = DAY
    uploads = []
    for frame in frames:
        key = f"incoming/{TENANT}/{yyyy}/{mm}/{dd}/{frame.image_id}.jpg"
        answer = s3.put_object(Bucket=bucket, Key=key, Body=frame.data, ContentType="image/jpeg")
        etag = str(answer["ETag"]).strip('"')
        uploads.append(Upload(frame.image_id, bucket, key, etag, len(frame.data)))
    return uploads


def single_model_repository(source: Path, into: Path) -> Path:
    """A repository holding only the segmenter (a link): Triton loads nothing else."""
    if not (source / MODEL / "config.pbtxt").is_file():
        raise FileNotFoundError(f"no {MODEL} in {source}: build the demo model with `make model`")
    root = into / "model_repository"
    root.mkdir(parents=True, exist_ok=True)
    (root / MODEL).symlink_to((source / MODEL).resolve(), target_is_directory=True)
    return root


def measure_batch(
    target: procs.Target,
    pids: dict[str, int],
    uploads: Sequence[Upload],
    clients: int,
) -> dict[str, Any]:
    """One measured batch: the round's raw figures (stats.round_figures) plus its samples' errors."""
    before = cpu.sample(pids)
    with procs.RssSampler(pids["transformer"]) as rss:
        samples, wall_s = drive(target.url, uploads, clients=clients)
    after = cpu.sample(pids)
    spent = cpu.spent(before, after)
    ok = [s.latency_ms for s in samples if s.ok]
    figures = stats.round_figures(
        latencies_ms=ok,
        wall_s=wall_s,
        cpu_s={"transformer": spent["transformer"], "triton": spent["triton"], "s3": spent["s3"]},
        peak_rss_bytes=rss.peak_per_worker,
        images=len(uploads),
        errors=len(samples) - len(ok),
    )
    errors = [f"{s.image_id}: {s.status} {s.error}" for s in samples if not s.ok]
    figures["error_samples"] = errors[:5]
    # A server that forks or restarts workers mid-round pays their start-up in its CPU: say so.
    tree_before = set(before.per_component["transformer"])
    tree_after = set(after.per_component["transformer"])
    figures["processes_started"] = len(tree_after - tree_before)
    figures["processes_ended"] = len(tree_before - tree_after)
    return figures


def run(options: Options, log: Callable[[str], None] = _say) -> tuple[dict[str, Any], Measured]:
    """Run the bench; the facts the report needs (settings, floors) and the measured rounds."""
    options.output.mkdir(parents=True, exist_ok=True)
    logs = options.output / "logs"
    logs.mkdir(exist_ok=True)
    counts = {res: n for res, n in options.images.items() if n > 0}
    warm_count = max(2, options.workers)

    started = time.monotonic()
    log(f"generating frames: {counts} (+{warm_count} warm-up frames each)")
    frames: dict[str, list[Frame]] = {}
    warmup: list[Frame] = []
    for res, n in counts.items():
        made = make_frames(res, n + warm_count, seed=options.seed)
        frames[res], extra = made[:n], made[n:]
        warmup.extend(extra)

    floors = {}
    for res, fs in frames.items():
        floors[res] = codec_floor.floor_ms([f.data for f in fs])
        log(f"codec floor {res}: {floors[res]:.1f} ms CPU per image (decode + encode, one core)")

    missing_kserve = procs.kserve_missing(options.kserve_venv)
    measured = Measured()
    for name in options.only:
        if name in stats.REFERENCES and missing_kserve:
            measured.not_run[name] = missing_kserve
            log(f"{name}: not run: {missing_kserve}")
    names = [n for n in stats.TRANSFORMERS if n in options.only and n not in measured.not_run]

    if names:
        _measure(options, names, frames, warmup, measured, logs, log, started)

    facts = {
        "counts": counts,
        "floors": floors,
        "sizes": {res: (fs[0].width, fs[0].height) for res, fs in frames.items()},
        "kserve_version": procs.kserve_version(options.kserve_venv),
        "elapsed_s": time.monotonic() - started,
    }
    return facts, measured


def _measure(
    options: Options,
    names: Sequence[str],
    frames: dict[str, list[Frame]],
    warmup: Sequence[Frame],
    measured: Measured,
    logs: Path,
    log: Callable[[str], None],
    started: float,
) -> None:
    """Start moto and Triton, upload the frames once, then the rounds; everything stops after."""
    layout = AwsLayout()
    originals = {f.image_id: f.data for fs in frames.values() for f in fs}
    server_pids: list[int] = []
    with tempfile.TemporaryDirectory(prefix="siteveil-bench-") as tmp:
        try:
            moto_port = free_port()
            endpoint = f"http://127.0.0.1:{moto_port}"
            moto_pid = start_moto(options.python, moto_port, logs / "moto.log")
            server_pids.append(moto_pid)
            s3 = client("s3", endpoint, layout)
            for bucket in (layout.uploads_bucket, layout.results_bucket):
                s3.create_bucket(Bucket=bucket)
            uploads = {
                res: upload_frames(s3, layout.uploads_bucket, fs) for res, fs in frames.items()
            }
            warm_uploads = upload_frames(s3, layout.uploads_bucket, warmup)

            log(f"starting Triton (config {options.triton_config!r}, {MODEL} only) ...")
            repository = single_model_repository(options.model_repository, Path(tmp))
            triton = start_triton(
                repository,
                config_name=options.triton_config,
                log_path=logs / "triton.log",
                venv=options.triton_venv,
            )
            server_pids.append(triton.pid)
            env = procs.child_env(aws_env(endpoint, layout))
            log(f"ready after {time.monotonic() - started:.0f} s")

            for round_number in range(1, options.rounds + 1):
                for name in names:
                    if name in measured.not_run:
                        continue
                    checks.clear(s3, layout.results_bucket)
                    cleared_at = datetime.now(UTC)
                    target = _target(name, options, triton.endpoints.http, layout)
                    pids = {"triton": triton.pid, "s3": moto_pid}
                    try:
                        batches = _one_transformer(
                            target, env, pids, uploads, warm_uploads, options, logs
                        )
                    except Exception as exc:  # noqa: BLE001 - a reference's failure is reported
                        measured.not_run[name] = f"failed in round {round_number}: {exc}"[:2000]
                        log(f"{name}: {measured.not_run[name]}")
                        continue
                    for res, figures in batches.items():
                        figures["round"] = round_number
                        batch = uploads[res]
                        results = checks.check_all(
                            s3,
                            layout.results_bucket,
                            TENANT,
                            [(u.image_id, originals[u.image_id]) for u in batch],
                            not_before=cleared_at,
                        )
                        figures["anonymized"] = sum(c.anonymized for c in results)
                        bad = [f"{c.image_id}: {c.reason}" for c in results if not c.anonymized]
                        figures["not_anonymized"] = bad[:5]
                        measured.failures += [f"{name} round {round_number} {b}" for b in bad]
                        measured.rounds.setdefault(name, {}).setdefault(res, []).append(figures)
                        log(_line(name, res, round_number, figures))
        finally:
            procs.stop_all(list(reversed(server_pids)))


def _one_transformer(
    target: procs.Target,
    env: dict[str, str],
    pids: dict[str, int],
    uploads: dict[str, list[Upload]],
    warm_uploads: Sequence[Upload],
    options: Options,
    logs: Path,
) -> dict[str, dict[str, Any]]:
    """Start one transformer, let it go idle, warm it up (uncounted), measure each resolution's
    batch, stop it."""
    pid = procs.start(target, env, logs / f"{target.name}.log")
    try:
        # workers a server starts after it says ready come up first, then every one is warmed
        settled = procs.settle(pid)
        drive(target.url, warm_uploads, clients=options.workers)
        settled = procs.settle(pid) and settled
        batches = {
            res: measure_batch(target, {**pids, "transformer": pid}, batch, options.clients)
            for res, batch in uploads.items()
        }
        for figures in batches.values():
            figures["settled"] = settled
        return batches
    finally:
        stop(pid)


def _target(name: str, options: Options, triton_http: str, layout: AwsLayout) -> procs.Target:
    if name == stats.SITEVEIL:
        return procs.siteveil_target(
            options.python,
            triton_http=triton_http,
            workers=options.workers,
            results_bucket=layout.results_bucket,
            uploads_bucket=layout.uploads_bucket,
        )
    return procs.kserve_target(
        name.removeprefix("kserve_"),
        triton_http=triton_http,
        workers=options.workers,
        results_bucket=layout.results_bucket,
        venv=options.kserve_venv,
    )


def _line(name: str, res: str, round_number: int, f: dict[str, Any]) -> str:
    p99 = f"{f['p99_ms']:.0f}" if f["p99_ms"] is not None else "-"
    warning = ""
    if f["processes_started"] or not f["settled"]:
        warning = f" (!) {f['processes_started']} process(es) started during it"
        warning += "" if f["settled"] else ", never idle before it"
    return (
        f"round {round_number} {name:<15} {res:>5}: {f['images_per_s']:.2f} img/s, p99 {p99} ms,"
        f" CPU {f['cpu_ms_per_image']:.1f} ms/img (Triton {f['triton_cpu_ms_per_image']:.1f},"
        f" S3 {f['s3_cpu_ms_per_image']:.1f}), anonymized {f['anonymized']}/{f['images']},"
        f" errors {f['errors']}{warning}"
    )
