"""Start, watch and stop the stack's server processes (each in its own session, logs to a file)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server in a new session (its own process group), stdout+stderr appended to log_path.

    A new session means `make up` can exit and leave it running, and `stop` can reach the
    children it forks (Gunicorn workers, Triton's Python backend stubs) through the group.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise StackError(f"cannot start {argv[0]}: {exc}") from exc


def log_tail(log_path: Path, lines: int = 30) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def http_status(url: str, *, timeout: float = 2.0) -> int | None:
    """The HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return None


def wait_http_ok(
    url: str,
    *,
    name: str,
    timeout_s: float,
    pid: int | None = None,
    log_path: Path | None = None,
) -> None:
    """Poll url until it answers 200; fail early (with the log's tail) if the process died."""
    deadline = time.monotonic() + timeout_s
    while True:
        if http_status(url) == 200:
            return
        if pid is not None and not is_alive(pid):
            tail = log_tail(log_path) if log_path else ""
            raise StackError(f"{name} exited during start-up; last log lines:\n{tail}")
        if time.monotonic() > deadline:
            tail = log_tail(log_path) if log_path else ""
            raise StackError(f"{name} not ready at {url} after {timeout_s:.0f} s; log:\n{tail}")
        time.sleep(0.2)


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces.
    return raw[raw.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """The kernel's start time of pid (clock ticks since boot): a pid-reuse guard for pid files."""
    fields = _proc_stat(pid)
    return int(fields[19]) if fields else None


def is_alive(pid: int) -> bool:
    """True while pid runs (a zombie counts as gone)."""
    try:
        os.waitpid(pid, os.WNOHANG)  # reap our own children so they do not linger as zombies
    except ChildProcessError:
        pass
    fields = _proc_stat(pid)
    if fields is not None:
        return fields[0] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(pid: int, *, timeout_s: float = 15.0) -> None:
    """SIGTERM the process (graceful), wait, then SIGKILL whatever is left of its group."""
    if is_alive(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout_s
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    # The process led its own session, so its pid is the group id of everything it forked.
    if _group_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5.0
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def kill_group(pid: int) -> None:
    """SIGKILL a process and everything in its group at once (a crash, not a shutdown)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5.0
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def kill_orphaned_group(pgid: int) -> bool:
    """SIGKILL what is left of a group whose leader died (e.g. Gunicorn workers after a crash).

    Linux does not hand out a pid while it still names a process group, so a live group with
    a dead leader's pid is the leader's own group. True if there was one.
    """
    if is_alive(pgid) or not _group_alive(pgid):
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class PidRecord:
    """What a pid file holds: enough to find the process again and not kill a stranger."""

    name: str
    pid: int
    started: int | None

    def matches_running_process(self) -> bool:
        return is_alive(self.pid) and (self.started is None or start_time(self.pid) == self.started)


def write_pid_file(path: Path, name: str, pid: int) -> PidRecord:
    record = PidRecord(name=name, pid=pid, started=start_time(pid))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{record.pid} {record.started if record.started is not None else '-'}\n")
    return record


def read_pid_file(path: Path) -> PidRecord | None:
    try:
        parts = path.read_text().split()
        pid = int(parts[0])
    except (OSError, ValueError, IndexError):
        return None
    started = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return PidRecord(name=path.stem, pid=pid, started=started)
