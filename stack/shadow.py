"""Shadow candidates on the single-machine stack: one Triton serves the live models and every
candidate (a model directory of its own), and each candidate gets a `--shadow` transformer.

The chart runs a candidate in an InferenceService of its own; here the candidate shares Triton,
so it must be a model directory whose name no live model uses (its results then go to
`shadow/<candidate name>/<version>/…`). `stack.candidates` makes such directories from the demo
model.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

from stack.config import StackConfig
from stack.errors import StackError

PREFIX = "shadow-"  # component (pid file, log) name of a candidate's transformer


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str  # the Triton model name (its directory name)
    path: Path

    @property
    def component(self) -> str:
        return f"{PREFIX}{self.name}"


def _model_dirs(repository: Path) -> list[Path]:
    return sorted(p for p in repository.iterdir() if p.is_dir() and not p.name.startswith("."))


def candidates(config: StackConfig) -> list[Candidate]:
    """The configured candidates, checked: a model directory each, none named like a live one."""
    live = (
        {p.name for p in _model_dirs(config.model_repository)}
        if config.model_repository.is_dir()
        else set()
    )
    found: list[Candidate] = []
    for raw in config.shadows:
        path = Path(raw).resolve()
        if not (path / "config.pbtxt").is_file():
            raise StackError(
                f"shadow candidate {raw} is not a Triton model directory (no config.pbtxt)"
            )
        if not any(p.is_dir() and p.name.isdigit() for p in path.iterdir()):
            raise StackError(f"shadow candidate {raw} has no numeric version directory")
        if path.name in live:
            raise StackError(
                f"shadow candidate {raw} is named like the live model {path.name!r}: the stack's one "
                "Triton serves both, so give the candidate a directory name of its own"
            )
        if path.name in {c.name for c in found}:
            raise StackError(f"two shadow candidates are named {path.name!r}")
        found.append(Candidate(path.name, path))
    if found and any(a == "--delete_original" for a in config.transformer_args):
        raise StackError(
            "shadow candidates need the originals: the live transformer must not --delete_original"
        )
    return found


def combined_repository(config: StackConfig, found: list[Candidate]) -> Path:
    """`<state>/model_repository`: links to every live model and every candidate."""
    root = config.state_dir / "model_repository"
    if root.is_symlink() or root.is_file():
        root.unlink()
    elif root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for model in _model_dirs(config.model_repository):
        (root / model.name).symlink_to(model.resolve(), target_is_directory=True)
    for candidate in found:
        (root / candidate.name).symlink_to(candidate.path, target_is_directory=True)
    return root


def shadow_config(config: StackConfig, candidate: Candidate) -> StackConfig:
    """The live transformer's settings with the candidate in place of `model_name`, and --shadow."""
    models = tuple(candidate.name if m == config.model_name else m for m in config.models)
    if candidate.name not in models:
        models = (candidate.name, *models)
    return dataclasses.replace(
        config,
        model_name=candidate.name,
        models=models,
        transformer_workers=config.shadow_workers,
        transformer_args=(*config.transformer_args, "--shadow"),
    )
