"""Bring the local stack up and down: moto, Triton, the transformer, the relay, the upload API.

Every server is a background process in its own session with a pid file in
`<state>/pids/<name>.pid` and a log in `<state>/logs/<name>.log`, so `up` can return (make up),
`down` can run from another shell, and `down` still cleans up after a crash. `stack.json` in the
state directory holds the endpoints of the running stack.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from stack.aws import Queues, aws_env, provision, start_moto
from stack.config import REPO_ROOT, StackConfig
from stack.errors import AlreadyRunning, StackError
from stack.shadow import PREFIX as SHADOW_PREFIX
from stack.shadow import candidates, combined_repository, shadow_config
from stack.processes import (
    free_port,
    is_alive,
    kill_group,
    kill_orphaned_group,
    log_tail,
    read_pid_file,
    spawn,
    stop,
    wait_http_ok,
    write_pid_file,
)
from stack.triton import start_triton
from stack.upload_api import (
    api_command,
    api_env,
    api_key_command,
    ensure_dev_keys,
    shown_path,
    token_command,
)

# `down` stops in reverse: the API first (no new upload slots), then the relay (so no event is
# sent to a dying server). The API only needs moto: it starts while Triton loads, and `up`
# waits for it last.
COMPONENTS = ("moto", "triton", "transformer", "relay", "deadletters", "api")
RESTARTABLE = ("triton", "transformer", "relay", "deadletters")


def components(config: StackConfig) -> tuple[str, ...]:
    """COMPONENTS plus the shadow transformers (`shadow-<candidate>`) this state directory has
    pid files for, in start order (they start after the live transformer, before the relay)."""
    pids = config.state_dir / "pids"
    shadows = sorted(p.stem for p in pids.glob(f"{SHADOW_PREFIX}*.pid")) if pids.is_dir() else []
    return (*COMPONENTS[:3], *shadows, *COMPONENTS[3:])


class StackState(BaseModel):
    """What `up` wrote: where everything answers. Read by `status`, the demo and the tests."""

    model_config = ConfigDict(frozen=True)

    aws_endpoint: str
    region: str
    access_key_id: str
    secret_access_key: str
    uploads_bucket: str
    results_bucket: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    triton_http: str
    triton_grpc: str
    triton_metrics: str
    transformer_url: str
    model_name: str
    api_url: str
    api_keys_dir: str
    replies_path: str
    logs_dir: str
    pids: dict[str, int]
    transformer_aws_endpoint: str | None = None  # a fault-injecting S3 proxy (the soak)
    # shadow candidates: Triton model name → URL of its `--shadow` transformer
    shadows: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        """The AWS environment that points an SDK at this stack's emulator."""
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
        }


def _pid_path(config: StackConfig, name: str) -> Path:
    return config.state_dir / "pids" / f"{name}.pid"


def log_path(config: StackConfig, name: str) -> Path:
    return config.logs_dir / f"{name}.log"


@contextmanager
def _locked(config: StackConfig) -> Iterator[None]:
    """One `up`/`down` at a time per state directory."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    with open(config.state_dir / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def running_components(config: StackConfig) -> dict[str, int]:
    """name → pid of the stack's processes that still run (stale pid files are ignored)."""
    alive = {}
    for name in components(config):
        record = read_pid_file(_pid_path(config, name))
        if record is not None and record.matches_running_process():
            alive[name] = record.pid
    return alive


def read_state(config: StackConfig) -> StackState | None:
    try:
        return StackState.model_validate_json(config.state_file.read_text())
    except (OSError, ValueError):
        return None


def _child_env(config: StackConfig, aws_endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(aws_env(aws_endpoint, config.aws))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def transformer_command(config: StackConfig, triton_http: str, port: int) -> list[str]:
    """`python -m transformer` with KServe-compatible flags, as the InferenceService runs it."""
    return [
        str(config.python),
        "-m",
        "transformer",
        f"--model_name={config.model_name}",
        f"--models={','.join(config.models)}",
        f"--predictor_host={triton_http}",
        "--predictor_protocol=v2",
        # CPU detectors on tiled 4K frames take tens of seconds here (a GPU takes one)
        f"--predictor_request_timeout_seconds={config.delivery.timeout_s:g}",
        f"--http_port={port}",
        f"--workers={config.transformer_workers}",
        f"--results_bucket={config.aws.results_bucket}",
        f"--upload_buckets={config.aws.uploads_bucket}",
        *config.transformer_args,
    ]


def relay_command(config: StackConfig, queues: Queues, sink: str) -> list[str]:
    d = config.delivery
    return [
        str(config.python),
        "-m",
        "stack.relay",
        "--queue-url",
        queues.url,
        "--dead-letter-queue-url",
        queues.dead_letter_url,
        "--source",
        queues.arn,
        "--sink",
        sink,
        "--replies",
        str(config.replies_path),
        "--retry",
        str(d.retry),
        "--backoff-policy",
        d.backoff_policy,
        "--backoff-delay",
        str(d.backoff_delay_s),
        "--timeout",
        str(d.timeout_s),
        "--max-in-flight",
        str(config.relay_max_in_flight),
        "--wait-time",
        str(config.relay_wait_time_s),
    ]


def deadletters_command(config: StackConfig, dead_letter_queue_url: str) -> list[str]:
    return [
        str(config.python),
        "-m",
        "stack.deadletters",
        "--dead-letter-queue-url",
        dead_letter_queue_url,
        "--results-bucket",
        config.aws.results_bucket,
        "--upload-bucket",
        config.aws.uploads_bucket,
        "--model-name",
        config.model_name,
    ]


def _wait_for_log_line(
    path: Path, text: str, pid: int, name: str, timeout_s: float, *, offset: int = 0
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in _read_from(path, offset):
            return
        if not is_alive(pid):
            raise StackError(f"{name} exited during start-up; last log lines:\n{log_tail(path)}")
        time.sleep(0.1)
    raise StackError(f"{name} did not start within {timeout_s:.0f} s; log:\n{log_tail(path)}")


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _start_transformer(
    config: StackConfig, triton_http: str, port: int, env: dict[str, str]
) -> int:
    proc = spawn(
        transformer_command(config, triton_http, port),
        log_path=log_path(config, "transformer"),
        env=env,
        cwd=REPO_ROOT,
    )
    write_pid_file(_pid_path(config, "transformer"), "transformer", proc.pid)
    wait_http_ok(
        f"http://127.0.0.1:{port}/v2/health/ready",
        name="transformer",
        timeout_s=config.startup_timeout_s,
        pid=proc.pid,
        log_path=log_path(config, "transformer"),
    )
    return proc.pid


def _start_relay(
    config: StackConfig,
    queues: Queues,
    sink: str,
    env: dict[str, str],
    shadow_sinks: Sequence[str] = (),
) -> int:
    """The relay, delivering to the transformer and, like a second Trigger, to each shadow."""
    path = log_path(config, "relay")
    offset = path.stat().st_size if path.exists() else 0
    argv = relay_command(config, queues, sink)
    for shadow in shadow_sinks:
        argv += ["--shadow-sink", shadow]
    proc = spawn(argv, log_path=path, env=env, cwd=REPO_ROOT)
    write_pid_file(_pid_path(config, "relay"), "relay", proc.pid)
    _wait_for_log_line(path, '"relay started"', proc.pid, "relay", 60, offset=offset)
    return proc.pid


def _start_deadletters(config: StackConfig, dead_letter_queue_url: str, env: dict[str, str]) -> int:
    path = log_path(config, "deadletters")
    offset = path.stat().st_size if path.exists() else 0
    proc = spawn(
        deadletters_command(config, dead_letter_queue_url), log_path=path, env=env, cwd=REPO_ROOT
    )
    write_pid_file(_pid_path(config, "deadletters"), "deadletters", proc.pid)
    _wait_for_log_line(
        path, '"dead-letter consumer started"', proc.pid, "deadletters", 60, offset=offset
    )
    return proc.pid


def _start_all(config: StackConfig, started: dict[str, int]) -> StackState:
    aws = config.aws
    moto_port = config.moto_port or free_port()
    aws_endpoint = f"http://127.0.0.1:{moto_port}"
    started["moto"] = start_moto(config.python, moto_port, log_path(config, "moto"))
    write_pid_file(_pid_path(config, "moto"), "moto", started["moto"])
    queues = provision(aws_endpoint, aws)
    env = _child_env(config, aws_endpoint)

    ensure_dev_keys(config.api_keys_dir)
    api_port = config.api_port or free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    proc = spawn(
        api_command(config, api_port),
        log_path=log_path(config, "api"),
        env=api_env(env, aws, config.api_keys_dir),
        cwd=REPO_ROOT,
    )
    started["api"] = proc.pid
    write_pid_file(_pid_path(config, "api"), "api", proc.pid)

    found = candidates(config)
    repository = combined_repository(config, found) if found else config.model_repository
    triton = start_triton(
        repository,
        config_name=config.triton_config_name,
        log_path=log_path(config, "triton"),
        venv=config.triton_venv,
        http_port=config.triton_http_port,
        grpc_port=config.triton_grpc_port,
        startup_timeout_s=config.startup_timeout_s,
    )
    started["triton"] = triton.pid
    write_pid_file(_pid_path(config, "triton"), "triton", triton.pid)

    port = config.transformer_port or free_port()
    transformer_url = f"http://127.0.0.1:{port}"
    started["transformer"] = _start_transformer(config, triton.endpoints.http, port, env)

    shadow_urls: dict[str, str] = {}
    for candidate in found:
        shadow_port = free_port()
        shadow_urls[candidate.name] = f"http://127.0.0.1:{shadow_port}"
        name = candidate.component
        proc = spawn(
            transformer_command(
                shadow_config(config, candidate), triton.endpoints.http, shadow_port
            ),
            log_path=log_path(config, name),
            env=env,
            cwd=REPO_ROOT,
        )
        started[name] = proc.pid
        write_pid_file(_pid_path(config, name), name, proc.pid)
        wait_http_ok(
            f"{shadow_urls[candidate.name]}/v2/health/ready",
            name=f"shadow transformer {candidate.name}",
            timeout_s=config.startup_timeout_s,
            pid=proc.pid,
            log_path=log_path(config, name),
        )

    shadow_sinks = [url + "/" for url in shadow_urls.values()]
    started["relay"] = _start_relay(config, queues, transformer_url + "/", env, shadow_sinks)
    started["deadletters"] = _start_deadletters(config, queues.dead_letter_url, env)

    wait_http_ok(
        f"{api_url}/readyz",
        name="upload API",
        timeout_s=config.startup_timeout_s,
        pid=started["api"],
        log_path=log_path(config, "api"),
    )

    return StackState(
        aws_endpoint=aws_endpoint,
        region=aws.region,
        access_key_id=aws.access_key_id,
        secret_access_key=aws.secret_access_key,
        uploads_bucket=aws.uploads_bucket,
        results_bucket=aws.results_bucket,
        queue_url=queues.url,
        queue_arn=queues.arn,
        dead_letter_queue_url=queues.dead_letter_url,
        triton_http=triton.endpoints.http,
        triton_grpc=triton.endpoints.grpc,
        triton_metrics=triton.endpoints.metrics,
        transformer_url=transformer_url,
        model_name=config.model_name,
        api_url=api_url,
        api_keys_dir=str(config.api_keys_dir.resolve()),
        replies_path=str(config.replies_path.resolve()),
        logs_dir=str(config.logs_dir.resolve()),
        pids=dict(started),
        shadows=shadow_urls,
    )


def up(config: StackConfig) -> StackState:
    """Start every part in the background and wait until each is ready; stack.json says where.

    Raises AlreadyRunning when an earlier `up` in this state directory still runs. On a failed
    start, whatever was started is stopped again.
    """
    with _locked(config):
        alive = running_components(config)
        if alive:
            names = ", ".join(f"{n} (pid {p})" for n, p in alive.items())
            raise AlreadyRunning(f"the stack in {config.state_dir} is already running: {names}")
        _stop_recorded(config)  # stale pid files of a crashed stack
        config.logs_dir.mkdir(parents=True, exist_ok=True)
        for name in (*COMPONENTS, *(c.component for c in candidates(config))):
            log_path(config, name).unlink(missing_ok=True)
        config.replies_path.unlink(missing_ok=True)
        started: dict[str, int] = {}
        try:
            state = _start_all(config, started)
        except BaseException:
            _stop_recorded(config)
            raise
        _write_state(config, state)
        return state


def _stop_recorded(config: StackConfig) -> list[str]:
    """Stop every recorded process that still runs (reverse start order); forget the pid files."""
    stopped = []
    for name in reversed(components(config)):
        path = _pid_path(config, name)
        record = read_pid_file(path)
        if record is not None and record.matches_running_process():
            stop(record.pid, timeout_s=30.0)
            stopped.append(name)
        elif record is not None and kill_orphaned_group(record.pid):
            stopped.append(f"{name} (leftovers of a crashed process)")
        path.unlink(missing_ok=True)
    return stopped


def down(config: StackConfig) -> list[str]:
    """Stop everything `up` started (also after a crash); the names of what was still running."""
    with _locked(config):
        stopped = _stop_recorded(config)
        config.state_file.unlink(missing_ok=True)
        return stopped


def restart_component(
    config: StackConfig, name: str, *, kill: bool = False, aws_endpoint: str | None = None
) -> int:
    """Stop one part of the running stack (SIGTERM, or SIGKILL with `kill`) and start it again
    on the same endpoints; its new pid. `aws_endpoint` points the transformer's S3 elsewhere
    (the soak's fault-injecting proxy); None keeps what it had."""
    if name not in RESTARTABLE:
        raise ValueError(f"cannot restart {name!r}; one of {', '.join(RESTARTABLE)}")
    with _locked(config):
        state = read_state(config)
        if state is None:
            raise StackError(f"no running stack in {config.state_dir} (run `make up`)")
        record = read_pid_file(_pid_path(config, name))
        if record is not None and record.matches_running_process():
            if kill:
                kill_group(record.pid)
            else:
                stop(record.pid, timeout_s=60.0)
        env = _child_env(config, state.aws_endpoint)
        if name == "triton":
            triton = start_triton(
                config.model_repository,
                config_name=config.triton_config_name,
                log_path=log_path(config, "triton"),
                venv=config.triton_venv,
                http_port=_port(state.triton_http),
                grpc_port=_port(state.triton_grpc),
                metrics_port=_port(state.triton_metrics),
                startup_timeout_s=config.startup_timeout_s,
            )
            write_pid_file(_pid_path(config, "triton"), "triton", triton.pid)
            pid = triton.pid
        elif name == "transformer":
            endpoint = aws_endpoint or state.transformer_aws_endpoint
            if endpoint:
                env.update(aws_env(endpoint, config.aws))
            state = state.model_copy(update={"transformer_aws_endpoint": endpoint})
            pid = _start_transformer(config, state.triton_http, _port(state.transformer_url), env)
        elif name == "relay":
            queues = Queues(state.queue_url, state.queue_arn, state.dead_letter_queue_url, "")
            shadows = [url + "/" for url in state.shadows.values()]
            pid = _start_relay(config, queues, state.transformer_url + "/", env, shadows)
        else:
            pid = _start_deadletters(config, state.dead_letter_queue_url, env)
        state = state.model_copy(update={"pids": {**state.pids, name: pid}})
        _write_state(config, state)
        return pid


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1].rstrip("/"))


def _write_state(config: StackConfig, state: StackState) -> None:
    tmp = config.state_file.with_suffix(".tmp")
    tmp.write_text(state.model_dump_json(indent=2))
    tmp.replace(config.state_file)


def stop_component(config: StackConfig, name: str) -> bool:
    """Stop one part of a running stack (tests use it to take Triton away); True if it ran."""
    if name not in components(config):
        raise ValueError(f"unknown component {name!r}; one of {', '.join(COMPONENTS)}")
    with _locked(config):
        path = _pid_path(config, name)
        record = read_pid_file(path)
        path.unlink(missing_ok=True)
        if record is None or not record.matches_running_process():
            return False
        stop(record.pid, timeout_s=30.0)
        return True


@contextmanager
def running_stack(config: StackConfig) -> Iterator[StackState]:
    """The stack, up for the duration of the block (tests and the demo)."""
    state = up(config)
    try:
        yield state
    finally:
        down(config)


def viewer_url(api_url: str) -> str:
    """The results viewer the upload API serves (api/viewer.py)."""
    return f"{api_url}/viewer"


def describe(state: StackState, *, python: Path | None = None, tenant: str = "acme") -> str:
    """Human-readable endpoints and how to call the API, for `make up` / `status`."""
    python = python or Path(sys.executable)
    siteveil = shown_path(python.with_name("siteveil"))
    token = token_command(python, state.api_keys_dir, tenant)
    api_key = api_key_command(python, state.env(), state.uploads_bucket, tenant)
    lines = [
        f"AWS (moto: S3, EventBridge, SQS)  {state.aws_endpoint}",
        f"  uploads bucket                  s3://{state.uploads_bucket}/incoming/...",
        f"  results bucket                  s3://{state.results_bucket}/results/...",
        f"  queue / dead-letter queue       {state.queue_url} / {state.dead_letter_queue_url}",
        (
            f"Triton (HTTP / gRPC / metrics)    http://{state.triton_http} / {state.triton_grpc}"
            f" / http://{state.triton_metrics}/metrics"
        ),
        f"transformer (POST CloudEvents)    {state.transformer_url}/",
        *(
            f"shadow {name:<26} {url}/ (results under shadow/{name}/)"
            for name, url in state.shadows.items()
        ),
        f"upload API (/openapi.json)        {state.api_url}",
        f"results viewer (sign in: a token) {viewer_url(state.api_url)}",
        f"  dev JWT signing key + JWKS      {state.api_keys_dir}/",
        f"relay replies (JSONL)             {state.replies_path}",
        "dead letters → failed records      `python -m stack redrive --list` to see them",
        f"logs                              {state.logs_dir}/",
        "",
        "Point an AWS SDK / CLI at it:",
        *(f"  export {k}={v}" for k, v in state.env().items()),
        "",
        f"Upload as a customer of tenant {tenant!r} with a dev token (RS256, valid 1 h):",
        f"  export SITEVEIL_API_URL={state.api_url}",
        f"  export SITEVEIL_TOKEN=$({token})",
        f"  {siteveil} upload photos/ --batch --out anonymized/",
        "or with an API key (stored hashed in the uploads bucket, printed once; unset the token):",
        f"  export SITEVEIL_API_KEY=$({api_key})",
        f"See the results in a browser: {viewer_url(state.api_url)} (paste the token or the key)",
    ]
    return "\n".join(lines)


def state_json(state: StackState) -> str:
    return json.dumps(state.model_dump(), indent=2)
