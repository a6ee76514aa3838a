"""Run the `tritonserver` of the nvidia-pytriton wheel on 127.0.0.1 (CPU, Python backend).

The wheel is installed in its own virtualenv (`make triton-venv` → `.venv-triton`), because it
pins numpy<2. We use only its binary and its Python backend, not PyTriton's Python API
(DESIGN.md §1): a backend directory is assembled from the wheel's files, and the server runs with
the base interpreter's libdir + the wheel's bundled libraries on LD_LIBRARY_PATH and the
virtualenv's bin/ first on PATH (the backend stub takes its packages from that `python3`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError, TritonUnavailable
from stack.processes import free_port, spawn, stop, wait_http_ok

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = REPO_ROOT / ".venv-triton"
_BACKENDS_DIR = "siteveil-backends"


@dataclass(frozen=True, slots=True)
class TritonEndpoints:
    """Where a running Triton answers: "127.0.0.1:<port>" for HTTP (KServe v2) and gRPC."""

    http: str
    grpc: str
    metrics: str

    @property
    def http_url(self) -> str:
        return f"http://{self.http}"


@dataclass(frozen=True, slots=True)
class TritonInstall:
    """The files of one nvidia-pytriton installation that a server start needs."""

    venv: Path
    server: Path
    backend_dir: Path
    ld_library_path: str


def _venv_python_facts(venv: Path) -> tuple[str, str, Path]:
    """(python "X.Y", base interpreter libdir, site-packages) of the virtualenv's interpreter."""
    python = venv / "bin" / "python"
    if not python.exists():
        raise TritonUnavailable(
            f"no Triton virtualenv at {venv}: run `make triton-venv` (installs nvidia-pytriton)"
        )
    code = (
        "import sys, sysconfig; "
        "print(f'{sys.version_info[0]}.{sys.version_info[1]}'); "
        "print(sysconfig.get_config_var('LIBDIR')); "
        "print(sysconfig.get_paths()['purelib'])"
    )
    out = subprocess.run(
        [str(python), "-c", code], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    return out[0], out[1], Path(out[2])


def _assemble_backend_dir(wheel_root: Path, python_version: str, target: Path) -> None:
    """backends/python/ = the wheel's Python backend + the stub built for this Python version."""
    stub = wheel_root / "python_backend_stubs" / python_version / "triton_python_backend_stub"
    if not stub.exists():
        raise TritonUnavailable(f"nvidia-pytriton has no Python backend stub for {python_version}")
    python_dir = target / "python"
    if (python_dir / "triton_python_backend_stub").exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".backends-", dir=target.parent))
    (staging / "python").mkdir()
    for member in (wheel_root / "backends" / "python").iterdir():
        if member.is_file():
            shutil.copy2(member, staging / "python" / member.name)
    shutil.copy2(stub, staging / "python" / stub.name)
    try:
        staging.rename(target)
    except OSError:  # another process assembled it first
        shutil.rmtree(staging, ignore_errors=True)


def find_install(venv: Path = DEFAULT_VENV) -> TritonInstall:
    """Locate tritonserver in the Triton virtualenv, assembling the backend directory once."""
    venv = venv.resolve()
    python_version, libdir, site_packages = _venv_python_facts(venv)
    wheel_root = site_packages / "pytriton" / "tritonserver"
    server = wheel_root / "bin" / "tritonserver"
    if not server.exists():
        raise TritonUnavailable(f"{server} is missing: run `make triton-venv`")
    backend_dir = venv / _BACKENDS_DIR
    _assemble_backend_dir(wheel_root, python_version, backend_dir)
    libs = [libdir, str(site_packages / "nvidia_pytriton.libs")]
    return TritonInstall(
        venv=venv, server=server, backend_dir=backend_dir, ld_library_path=os.pathsep.join(libs)
    )


def server_command(
    install: TritonInstall,
    model_repository: Path,
    endpoints: TritonEndpoints,
    *,
    config_name: str,
    exit_timeout_s: int,
) -> list[str]:
    _, http_port = endpoints.http.rsplit(":", 1)
    _, grpc_port = endpoints.grpc.rsplit(":", 1)
    _, metrics_port = endpoints.metrics.rsplit(":", 1)
    return [
        str(install.server),
        f"--model-repository={model_repository.resolve()}",
        f"--backend-directory={install.backend_dir}",
        f"--model-config-name={config_name}",
        "--http-address=127.0.0.1",
        f"--http-port={http_port}",
        "--grpc-address=127.0.0.1",
        f"--grpc-port={grpc_port}",
        "--metrics-address=127.0.0.1",
        f"--metrics-port={metrics_port}",
        "--allow-sagemaker=false",
        "--allow-vertex-ai=false",
        "--disable-auto-complete-config",
        f"--exit-timeout-secs={exit_timeout_s}",
    ]


def server_env(install: TritonInstall) -> dict[str, str]:
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (install.ld_library_path, env.get("LD_LIBRARY_PATH", "")) if p
    )
    env["PATH"] = os.pathsep.join([str(install.venv / "bin"), env.get("PATH", "")])
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    return env


@dataclass(frozen=True, slots=True)
class TritonProcess:
    """A started tritonserver: its endpoints, pid and log file."""

    endpoints: TritonEndpoints
    pid: int
    log_path: Path


def start_triton(
    model_repository: Path,
    *,
    config_name: str = "cpu",
    log_path: Path,
    venv: Path = DEFAULT_VENV,
    http_port: int = 0,
    grpc_port: int = 0,
    metrics_port: int = 0,
    startup_timeout_s: float = 180.0,
    exit_timeout_s: int = 5,
) -> TritonProcess:
    """Start tritonserver in the background and wait for /v2/health/ready (every model loaded).

    Port 0 picks a free port. The caller owns the process: `stop(process.pid)` ends it.
    """
    if not model_repository.is_dir():
        raise StackError(f"model repository {model_repository} does not exist (run `make model`)")
    install = find_install(venv)
    endpoints = TritonEndpoints(
        http=f"127.0.0.1:{http_port or free_port()}",
        grpc=f"127.0.0.1:{grpc_port or free_port()}",
        metrics=f"127.0.0.1:{metrics_port or free_port()}",
    )
    argv = server_command(
        install, model_repository, endpoints, config_name=config_name, exit_timeout_s=exit_timeout_s
    )
    proc = spawn(argv, log_path=log_path, env=server_env(install))
    try:
        wait_http_ok(
            f"{endpoints.http_url}/v2/health/ready",
            name="tritonserver",
            timeout_s=startup_timeout_s,
            pid=proc.pid,
            log_path=log_path,
        )
    except BaseException:
        stop(proc.pid)
        raise
    return TritonProcess(endpoints=endpoints, pid=proc.pid, log_path=log_path)


@contextmanager
def running_triton(
    model_repository: Path,
    *,
    config_name: str = "cpu",
    log_dir: Path | None = None,
    venv: Path = DEFAULT_VENV,
) -> Iterator[TritonEndpoints]:
    """A Triton serving model_repository on free 127.0.0.1 ports while the block runs.

    Ready means every model in the repository loaded. The log goes to log_dir/tritonserver.log
    (a temporary directory when None, removed afterwards).
    """
    with tempfile.TemporaryDirectory(prefix="siteveil-triton-") as tmp:
        log_path = (log_dir if log_dir is not None else Path(tmp)) / "tritonserver.log"
        process = start_triton(
            model_repository, config_name=config_name, log_path=log_path, venv=venv
        )
        try:
            yield process.endpoints
        finally:
            stop(process.pid)
