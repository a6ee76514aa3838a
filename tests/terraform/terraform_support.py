"""Running Terraform, checkov and a moto server from the Terraform tests, and reading HCL.

Terraform cannot be installed from a package registry, so the tests use the binary and the AWS
provider mirror of the machine image (DESIGN.md §4) and skip, saying why, where either is absent.
Every run works on a private copy of `terraform/`, so `.terraform/` folders, lock files and state
never land in the checkout and parallel runs do not collide.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

from stack.processes import free_port

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
MODULES = ("storage", "events", "streaming", "cluster", "auth")
EXAMPLES = ("complete", "local")
PROVIDER_PATH = Path("registry.terraform.io") / "hashicorp" / "aws"

# Places a machine image may keep a provider mirror, checked before a bounded search.
_PLUGIN_DIR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
)
_SEARCH_ROOTS = (Path("/opt"), Path("/usr/local"), Path("/usr/share"), Path.home())


class ToolMissing(RuntimeError):
    """A tool the tests need is not on this machine; the message says what to do."""


def terraform_binary() -> str:
    found = os.environ.get("SITEVEIL_TERRAFORM") or shutil.which("terraform")
    if not found:
        raise ToolMissing(
            "terraform is not installed (no package registry ships it; the CI machine image has "
            "1.11 in /usr/local/bin). Set SITEVEIL_TERRAFORM to a terraform binary to run these."
        )
    return found


def _has_aws_provider(folder: Path) -> bool:
    return (folder / PROVIDER_PATH).is_dir()


def plugin_dir() -> Path:
    """The folder holding `registry.terraform.io/hashicorp/aws/<version>` (a provider mirror)."""
    configured = os.environ.get("SITEVEIL_TF_PLUGIN_DIR")
    if configured:
        if not _has_aws_provider(Path(configured)):
            raise ToolMissing(
                f"SITEVEIL_TF_PLUGIN_DIR={configured} holds no {PROVIDER_PATH} provider mirror"
            )
        return Path(configured)
    for candidate in _PLUGIN_DIR_CANDIDATES:
        if _has_aws_provider(candidate):
            return candidate
    for root in _SEARCH_ROOTS:
        if not root.is_dir():
            continue
        for registry in _walk_for(root, "registry.terraform.io", depth=4):
            if _has_aws_provider(registry.parent):
                return registry.parent
    raise ToolMissing(
        "no filesystem mirror of the hashicorp/aws provider found (looked for "
        f"<dir>/{PROVIDER_PATH} in {', '.join(map(str, _PLUGIN_DIR_CANDIDATES))} and under "
        f"{', '.join(map(str, _SEARCH_ROOTS))}); set SITEVEIL_TF_PLUGIN_DIR to that <dir>."
    )


def _walk_for(root: Path, name: str, depth: int) -> list[Path]:
    found: list[Path] = []
    frontier = [root]
    for _ in range(depth):
        next_frontier: list[Path] = []
        for folder in frontier:
            try:
                children = [c for c in folder.iterdir() if c.is_dir() and not c.is_symlink()]
            except OSError:
                continue
            for child in children:
                if child.name == name:
                    found.append(child)
                elif not child.name.startswith("."):
                    next_frontier.append(child)
        frontier = next_frontier
    return found


def checkov_binary() -> str:
    configured = os.environ.get("SITEVEIL_CHECKOV")
    candidates = [configured] if configured else []
    candidates.append(str(REPO / ".venv-checkov" / "bin" / "checkov"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ToolMissing("checkov is not installed: run `make checkov-venv` (it builds .venv-checkov)")


@dataclass(frozen=True)
class Terraform:
    """A terraform binary bound to a provider mirror and a quiet, offline environment."""

    binary: str
    plugins: Path
    env: dict[str, str]

    @classmethod
    def create(cls, scratch: Path) -> Terraform:
        binary = terraform_binary()
        plugins = plugin_dir()
        scratch.mkdir(parents=True, exist_ok=True)
        cli_config = scratch / "terraformrc"
        cli_config.write_text("")  # the image points TF_CLI_CONFIG_FILE at a missing file
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
        env.update(
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            TF_CLI_CONFIG_FILE=str(cli_config),
        )
        return cls(binary=binary, plugins=plugins, env=env)

    def run(
        self, folder: Path, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.binary, *args],
            cwd=folder,
            env=self.env,
            capture_output=True,
            check=False,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} failed in {folder} ({result.returncode}):\n"
                f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
            )
        return result

    def init(self, folder: Path) -> None:
        self.run(
            folder,
            "init",
            "-backend=false",
            f"-plugin-dir={self.plugins}",
            "-no-color",
            timeout=300,
        )


def copy_terraform_tree(destination: Path) -> Path:
    """A clean copy of `terraform/` (no `.terraform/`, lock files or state from local runs)."""
    target = destination / "terraform"
    shutil.copytree(
        TERRAFORM_DIR,
        target,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"),
    )
    return target


def load_hcl(path: Path) -> dict[str, Any]:
    options = hcl2.SerializationOptions(
        with_comments=False, explicit_blocks=False, strip_string_quotes=True
    )
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=options)


def load_module(folder: Path) -> dict[str, list[Any]]:
    """All top-level blocks of the `.tf` files of one module, merged by block type."""
    merged: dict[str, list[Any]] = {}
    for tf_file in sorted(folder.glob("*.tf")):
        for block_type, blocks in load_hcl(tf_file).items():
            merged.setdefault(block_type, []).extend(blocks)
    return merged


def named(blocks: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """`resource`/`data` blocks of one type, by name: {name: body}."""
    found: dict[str, dict[str, Any]] = {}
    for block in blocks:
        for name, body in block.get(kind, {}).items():
            found[name] = body
    return found


def locals_of(module: dict[str, list[Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in module.get("locals", []):
        merged.update(block)
    return merged


@dataclass
class MotoServer:
    """A real moto server process on 127.0.0.1 (S3 + EventBridge + SQS with the wire protocol)."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_moto(log_dir: Path, attempts: int = 3) -> MotoServer:
    binary = REPO / ".venv" / "bin" / "moto_server"
    if not binary.exists():
        raise ToolMissing(
            f"{binary} is missing: run `make setup` (moto[server] is in the stack extra)"
        )
    last_error = ""
    for _ in range(attempts):
        port = free_port()
        log_path = log_dir / f"moto-{port}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_dir,
        )
        log.close()
        server = MotoServer(process=process, port=port, log_path=log_path)
        if _wait_until_serving(server, deadline=time.monotonic() + 30):
            return server
        server.stop()
        last_error = log_path.read_text(errors="replace")[-2000:]
        # Another process may have taken the port between our probe and moto's bind: retry.
    raise AssertionError(f"moto_server did not start after {attempts} attempts:\n{last_error}")


def _wait_until_serving(server: MotoServer, deadline: float) -> bool:
    import urllib.error
    import urllib.request

    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{server.endpoint}/moto-api/data.json", timeout=2):
                return True
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    return False


def output_json(tf: Terraform, folder: Path, state: Path) -> dict[str, Any]:
    result = tf.run(folder, "output", "-json", f"-state={state}", "-no-color")
    outputs = json.loads(result.stdout)
    return {name: item["value"] for name, item in outputs.items()}
