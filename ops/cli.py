"""`python -m ops`: the model lifecycle after export and publish — compare a shadow candidate with
the live model, then canary, promote or roll back with helm.

    python -m ops shadow-report --bucket siteveil-results --output shadow-output/
    python -m ops canary   --verdict shadow-output/verdict.json --percent 10 [--run --wait]
    python -m ops promote  --verdict shadow-output/verdict.json [--run --wait]
    python -m ops rollback --to person_segmenter/1 [--run --wait]
    python -m ops status

Every helm command is printed by default and run only with --run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ops.errors import OpsError
from ops.metrics import Thresholds
from ops.records import ResultStore
from ops.report import AGGREGATE_HEADER, IMAGE_HEADER, aggregate_rows, image_row, text_table
from ops.rollout import (
    Cluster,
    ModelVersion,
    Release,
    canary_command,
    describe_status,
    promote_command,
    rollback_command,
    run_helm,
    shown,
)
from ops.shadow import ShadowReport, shadow_report, write_local, write_s3

REJECT_EXIT = 3  # shadow-report --fail-on-reject: the verdict is "do not promote"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """`now`, a duration back from now (`90m`, `24h`, `7d`) or an ISO-8601 time (UTC if naive)."""
    now = now or datetime.now(UTC)
    if text == "now":
        return now
    match = _DURATION.match(text)
    if match:
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not `now`, a duration like 24h / 7d, or an ISO-8601 time"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _share(text: str) -> float:
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share in [0, 1] (or 0–100%)")
    return value


def _s3() -> Any:
    import boto3  # AWS_ENDPOINT_URL and credentials come from the standard environment

    return boto3.client("s3")


def _release_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--release", default="siteveil", help="helm release (default: %(default)s)")
    parent.add_argument("--namespace", default="siteveil", help="(default: %(default)s)")
    parent.add_argument(
        "--chart", default="charts/siteveil", help="chart path or reference (default: %(default)s)"
    )
    parent.add_argument("--helm", default="helm", help="helm binary (e.g. .tools/helm)")
    parent.add_argument(
        "--isvc",
        default=None,
        help="InferenceService name (default: the chart's: the release name when it contains "
        "'siteveil', else <release>-siteveil)",
    )
    parent.add_argument("--context", default=None, help="kubeconfig context")
    parent.add_argument(
        "--run", action="store_true", help="run the helm command (default: print it)"
    )
    parent.add_argument(
        "--wait",
        action="store_true",
        help="with --run: wait until the new revision of the InferenceService is Ready",
    )
    parent.add_argument("--timeout", type=float, default=1200.0, help="--wait limit in seconds")
    return parent


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m ops",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True)

    report = commands.add_parser(
        "shadow-report", help="compare the shadow candidate's results with the live ones"
    )
    report.add_argument("--bucket", required=True, help="the results bucket")
    report.add_argument(
        "--model", default=None, help="candidate model (default: the only one under shadow/)"
    )
    report.add_argument("--version", default=None, help="candidate version (default: the only one)")
    report.add_argument("--tenant", default=None, help="one tenant (default: all)")
    report.add_argument(
        "--since", type=parse_time, default="24h", help="window start (default: 24h ago)"
    )
    report.add_argument("--until", type=parse_time, default="now", help="window end (default: now)")
    report.add_argument("--output", type=Path, default=None, help="folder for the three files")
    report.add_argument("--s3", default=None, help="also upload them under this s3:// prefix")
    report.add_argument(
        "--s3-history",
        action="store_true",
        help="with --s3: write under <prefix>/<UTC time>/ and <prefix>/latest/",
    )
    defaults = Thresholds()
    report.add_argument(
        "--max-p95-privacy-loss",
        type=_share,
        default=defaults.max_p95_privacy_loss,
        help="share of live person pixels left unmasked, p95 over images (default 0.5%%)",
    )
    report.add_argument(
        "--max-new-failures", type=int, default=defaults.max_new_failures, help="(default 0)"
    )
    report.add_argument(
        "--max-p95-over-masking",
        type=_share,
        default=defaults.max_p95_over_masking,
        help="candidate-only pixels as a share of the frame, p95 (default 5%%)",
    )
    report.add_argument(
        "--min-images", type=int, default=defaults.min_images, help="(default %(default)s)"
    )
    report.add_argument("--worst", type=int, default=8, help="thumbnails of the worst images")
    report.add_argument(
        "--fail-on-reject",
        action="store_true",
        help=f"exit {REJECT_EXIT} when the verdict is reject (the CronJob uses it)",
    )

    release = _release_options()
    canary = commands.add_parser("canary", parents=[release], help="serve the candidate to a share")
    canary.add_argument("--verdict", required=True, help="verdict.json (path or s3:// URI)")
    canary.add_argument("--percent", type=int, default=10)
    promote = commands.add_parser("promote", parents=[release], help="serve the candidate to all")
    promote.add_argument("--verdict", required=True, help="verdict.json (path or s3:// URI)")
    rollback = commands.add_parser(
        "rollback", parents=[release], help="serve a previous model again"
    )
    rollback.add_argument("--to", type=ModelVersion.parse, default=None, help="<model>/<version>")
    rollback.add_argument(
        "--verdict", default=None, help="or: the verdict.json whose live model to go back to"
    )
    commands.add_parser("status", parents=[release], help="readiness and traffic split")
    return top


def print_report(report: ShadowReport) -> None:
    print(f"{report.context.candidate} (candidate) against {report.context.live} (live)")
    print(text_table(AGGREGATE_HEADER, aggregate_rows(report.summary)))
    if report.worst:
        print("\nworst disagreements:")
        print(text_table(IMAGE_HEADER, [image_row(i) for i in report.worst]))
    print(
        f"\n{report.summary.images} image(s), {report.summary.compared} compared, "
        f"{report.summary.new_failures} new failure(s)"
    )
    print(f"verdict: {'PROMOTE' if report.verdict.promote else 'REJECT'}")
    for reason in report.verdict.reasons:
        print(f"  - {reason}")


def _read_verdict(source: str) -> dict[str, Any]:
    if source.startswith("s3://"):
        bucket, _, key = source[len("s3://") :].partition("/")
        store = ResultStore(_s3(), bucket)
        body = store.get(key)
        if body is None:
            raise OpsError(f"{source} does not exist")
        text = body.decode("utf-8")
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise OpsError(f"cannot read {source}: {exc}") from exc
    try:
        verdict = json.loads(text)
    except ValueError as exc:
        raise OpsError(f"{source} is not JSON: {exc}") from exc
    if not isinstance(verdict, dict) or "promote" not in verdict or "candidate" not in verdict:
        raise OpsError(f"{source} is not a verdict.json of `python -m ops shadow-report`")
    return verdict


def _passing_candidate(source: str) -> tuple[ModelVersion, dict[str, Any]]:
    verdict = _read_verdict(source)
    if verdict["promote"] is not True:
        reasons = "; ".join(verdict.get("reasons") or []) or "no reason recorded"
        raise OpsError(f"the verdict in {source} is reject: {reasons}")
    return ModelVersion.parse(str(verdict["candidate"])), verdict


def _rollback_hint(release: Release, verdict: dict[str, Any]) -> str | None:
    """The rollback to the verdict's live model (none when its records named several)."""
    try:
        back = ModelVersion.parse(str(verdict.get("live")))
    except OpsError:
        return None
    return f"# roll back with: {shown(rollback_command(release, back))}"


def _isvc_name(args: argparse.Namespace) -> str:
    if args.isvc:
        return str(args.isvc)
    return args.release if "siteveil" in args.release else f"{args.release}-siteveil"


def _apply(args: argparse.Namespace, command: list[str], then: str | None = None) -> None:
    print(shown(command))
    if then:
        print(then)
    if not args.run:
        if args.wait:
            raise OpsError("--wait needs --run")
        print("(printed only; add --run to run it)")
        return
    run_helm(command)
    print("helm upgrade done")
    if args.wait:
        cluster = Cluster.connect(args.context)
        status = cluster.wait_rolled_out(
            args.namespace,
            _isvc_name(args),
            timeout_s=args.timeout,
            report=lambda s: print(describe_status(s), flush=True),
        )
        print(f"rolled out: {describe_status(status)}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "shadow-report":
            thresholds = Thresholds(
                max_p95_privacy_loss=args.max_p95_privacy_loss,
                max_new_failures=args.max_new_failures,
                max_p95_over_masking=args.max_p95_over_masking,
                min_images=args.min_images,
            )
            s3 = _s3()
            report = shadow_report(
                ResultStore(s3, args.bucket),
                model=args.model,
                version=args.version,
                tenant=args.tenant,
                since=args.since,
                until=args.until,
                thresholds=thresholds,
                worst_count=args.worst,
            )
            print_report(report)
            if args.output is not None:
                for path in write_local(report, args.output):
                    print(f"wrote {path}")
            if args.s3:
                prefixes = [args.s3]
                if args.s3_history:
                    stamp = report.context.generated_at.strftime("%Y%m%dT%H%M%SZ")
                    base = args.s3.rstrip("/")
                    prefixes = [f"{base}/{stamp}", f"{base}/latest"]
                for uri in (u for prefix in prefixes for u in write_s3(report, s3, prefix)):
                    print(f"wrote {uri}")
            return REJECT_EXIT if args.fail_on_reject and not report.verdict.promote else 0
        release = Release(args.release, args.namespace, args.chart, args.helm)
        if args.command == "canary":
            candidate, verdict = _passing_candidate(args.verdict)
            then = _rollback_hint(release, verdict)
            _apply(args, canary_command(release, candidate, args.percent), then)
        elif args.command == "promote":
            candidate, verdict = _passing_candidate(args.verdict)
            then = _rollback_hint(release, verdict)
            _apply(args, promote_command(release, candidate), then)
        elif args.command == "rollback":
            if args.to is None and args.verdict is None:
                raise OpsError("say what to go back to: --to <model>/<version> or --verdict")
            previous = args.to or ModelVersion.parse(str(_read_verdict(args.verdict)["live"]))
            _apply(args, rollback_command(release, previous))
        elif args.command == "status":
            cluster = Cluster.connect(args.context)
            print(describe_status(cluster.get(args.namespace, _isvc_name(args))))
    except OpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
