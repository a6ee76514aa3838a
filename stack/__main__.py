"""`python -m stack up|down|status|logs|restart|redrive`: the single-machine stack in the background."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from stack.config import PRIVACY_MODELS, StackConfig, model_list
from stack.errors import AlreadyRunning, StackError
from stack.lifecycle import (
    COMPONENTS,
    RESTARTABLE,
    restart_component,
    components,
    describe,
    down,
    log_path,
    read_state,
    running_components,
    up,
)
from stack.processes import log_tail


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=StackConfig().state_dir,
        help="pid files, logs and stack.json (default: .stack/)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser(
        "up", help="start moto, Triton, the transformer, the relay and the API"
    )
    start.add_argument(
        "--models",
        type=model_list,
        default=PRIVACY_MODELS,
        help="Triton models run on every image (default: %(default)s)",
    )
    start.add_argument(
        "--shadow",
        type=Path,
        action="append",
        default=[],
        metavar="MODEL_DIR",
        help="a candidate model directory to run in shadow mode beside the live model "
        "(repeatable; see docs/shadow.md)",
    )
    commands.add_parser("down", help="stop everything `up` started")
    commands.add_parser("status", help="what runs, and where")
    logs = commands.add_parser("logs", help="show the logs")
    logs.add_argument("component", nargs="?", choices=COMPONENTS, help="default: all")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.add_argument("-f", "--follow", action="store_true")
    restart = commands.add_parser(
        "restart", help="stop one component (SIGTERM; --kill: SIGKILL) and start it again"
    )
    restart.add_argument("component", choices=RESTARTABLE)
    restart.add_argument("--kill", action="store_true", help="kill -9 its process group")
    redrive = commands.add_parser(
        "redrive", help="send dead letters back to the event queue once their cause is fixed"
    )
    redrive.add_argument("image_ids", nargs="*", help="the uploads to redrive (default: --all)")
    redrive.add_argument("--tenant", help="only letters of this tenant")
    redrive.add_argument("--all", action="store_true", help="every dead letter (of --tenant)")
    redrive.add_argument("--list", action="store_true", help="list the dead letters, move none")
    return parser


def _redrive(
    config: StackConfig, image_ids: list[str], tenant: str | None, every: bool, only_list: bool
) -> int:
    from stack.aws import client
    from stack.deadletters import choose, describe_letter, peek, redrive

    state = read_state(config)
    if state is None:
        print(f"no running stack in {config.state_dir} (run `make up`)", file=sys.stderr)
        return 1
    sqs = client("sqs", state.aws_endpoint, config.aws)
    if only_list:
        for message in peek(sqs, state.dead_letter_queue_url, rounds=50):
            print(describe_letter(message))
        return 0
    if not image_ids and not every:
        print("name the image ids to redrive, or --all", file=sys.stderr)
        return 2
    moved = redrive(sqs, state.dead_letter_queue_url, state.queue_url, choose(image_ids, tenant))
    print(f"redriven: {len(moved)} dead letter(s)")
    return 0


def _logs(config: StackConfig, component: str | None, lines: int, follow: bool) -> int:
    names = [component] if component else list(components(config))
    paths = {n: log_path(config, n) for n in names if log_path(config, n).exists()}
    if not paths:
        print(f"no logs in {config.logs_dir} (run `make up` first)")
        return 1
    for name, path in paths.items():
        print(f"==> {name}: {path} <==")
        print(log_tail(path, lines))
    if not follow:
        return 0
    offsets = {n: p.stat().st_size for n, p in paths.items()}
    try:
        while True:
            for name, path in paths.items():
                size = path.stat().st_size if path.exists() else 0
                if size < offsets[name]:
                    offsets[name] = 0
                if size > offsets[name]:
                    with open(path, errors="replace") as log:
                        log.seek(offsets[name])
                        for line in log.read().splitlines():
                            print(f"{name:>11} | {line}")
                    offsets[name] = size
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = StackConfig(state_dir=args.state_dir)
    if args.command == "up":
        config = dataclasses.replace(config, models=args.models, shadows=tuple(args.shadow))
    try:
        if args.command == "up":
            print(
                "starting moto, Triton, the transformer, the relay and the upload API ...",
                flush=True,
            )
            state = up(config)
            print(describe(state))
            print("\nstop it with `make down`; logs: `make logs` (FOLLOW=1 to follow)")
        elif args.command == "down":
            stopped = down(config)
            print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        elif args.command == "status":
            alive = running_components(config)
            recorded = read_state(config)
            expected = components(config)
            width = max(len(name) for name in expected) + 1
            for name in expected:
                print(
                    f"{name:<{width}} {'running, pid ' + str(alive[name]) if name in alive else '-'}"
                )
            if recorded is not None and alive:
                print()
                print(describe(recorded))
            return 0 if alive.keys() == set(expected) else 3
        elif args.command == "restart":
            pid = restart_component(config, args.component, kill=args.kill)
            print(f"{args.component} restarted, pid {pid}")
        elif args.command == "redrive":
            return _redrive(config, args.image_ids, args.tenant, args.all, args.list)
        elif args.command == "logs":
            return _logs(config, args.component, args.lines, args.follow)
    except AlreadyRunning as exc:
        print(f"{exc}\n(`make down` stops it; `make status` shows it)", file=sys.stderr)
        return 0 if args.command == "up" else 1
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
