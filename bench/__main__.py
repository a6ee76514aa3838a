"""`python -m bench` (`make bench`): the transformer beside the KServe SDK references and the codec
floor, on moto S3 and the real Triton (CPU); writes report.json, report.md and report.png.

Exits 1 when an image was not anonymized or a reference did not run, 2 when the bench itself
cannot run (no model, no Triton); never on timings.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bench import report, stats
from bench.procs import KSERVE_VENV
from bench.run import Options, run
from stack.errors import StackError


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in stats.TRANSFORMERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {', '.join(unknown) or '(none)'}; some of {', '.join(stats.TRANSFORMERS)}"
        )
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    # Defaults: ~8 minutes on the 2-core machine (the as-shipped KServe reference, ~1 s of CPU
    # per 4K frame, takes most of it); the same frames for every transformer.
    p.add_argument(
        "--images-1080p", type=_count, default=100, help="frames per round (%(default)s)"
    )
    p.add_argument("--images-4k", type=_count, default=24, help="frames per round (%(default)s)")
    p.add_argument("--clients", type=_positive, default=4, help="concurrent clients (%(default)s)")
    p.add_argument("--workers", type=_positive, default=2, help="transformer workers (%(default)s)")
    p.add_argument(
        "--rounds", type=_positive, default=3, help="rounds, medians over them (%(default)s)"
    )
    p.add_argument(
        "--only",
        type=_names,
        default=stats.TRANSFORMERS,
        help=f"comma-separated, some of {','.join(stats.TRANSFORMERS)} (default: all)",
    )
    p.add_argument("--output", type=Path, default=Path("bench-output"), help="(%(default)s)")
    p.add_argument("--triton-config", default="cpu", help="Triton model config name (%(default)s)")
    p.add_argument(
        "--kserve-venv",
        type=Path,
        default=KSERVE_VENV,
        help="virtualenv with the pinned kserve (default: .venv-kserve, `make kserve-venv`)",
    )
    return p


def _interrupted(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    try:
        options = Options(
            images={"1080p": args.images_1080p, "4k": args.images_4k},
            clients=args.clients,
            workers=args.workers,
            rounds=args.rounds,
            only=args.only,
            output=args.output,
            triton_config=args.triton_config,
            kserve_venv=args.kserve_venv,
        )
    except ValueError as exc:
        cli.error(str(exc))
    signal.signal(signal.SIGTERM, _interrupted)  # stop the servers on `kill` as on Ctrl-C
    try:
        facts, measured = run(options)
    except (StackError, FileNotFoundError) as exc:
        print(f"bench could not run: {exc}", file=sys.stderr)
        return 2
    settings = {
        "images": facts["counts"],
        "clients": options.clients,
        "workers": options.workers,
        "rounds": options.rounds,
        "mode": "pixelate",
        "models": ["person_segmenter"],
        "kserve_version": facts["kserve_version"],
        "only": list(options.only),
        "triton_config": options.triton_config,
    }
    built = report.build(
        settings=settings,
        sizes=facts["sizes"],
        floors=facts["floors"],
        rounds=measured.rounds,
        not_run=measured.not_run,
        elapsed_s=facts["elapsed_s"],
    )
    out = options.output
    (out / "report.json").write_text(json.dumps(built, indent=2) + "\n")
    table = report.markdown(built)
    (out / "report.md").write_text(table + "\n")
    report.plot(built, out / "report.png")
    print()
    print(table)
    print(f"written: {out / 'report.json'}, {out / 'report.md'}, {out / 'report.png'}")
    found = report.problems(built)
    for line in measured.failures[:20]:
        print(f"not anonymized: {line}", file=sys.stderr)
    if found:
        print("bench FAILED:\n  " + "\n  ".join(found), file=sys.stderr)
        return 1
    print(f"bench passed: every image anonymized ({facts['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
