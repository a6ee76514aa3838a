"""What the Containerfiles copy, checked without building them: the API image carries a handful of
`transformer/` modules, and a module one of them imports but the image lacks fails the API at
start-up (the lean S3 transport, transformer/s3http.py, was such a module)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def transformer_imports(path: Path) -> set[str]:
    """The `transformer.*` modules a file imports (top level and inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("transformer."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("transformer.")}
    return found


def copied_transformer_modules(containerfile: Path) -> set[str]:
    text = containerfile.read_text().replace("\\\n", " ")
    return set(re.findall(r"transformer/(\w+)\.py", text))


def test_the_api_image_carries_every_transformer_module_the_api_imports() -> None:
    copied = copied_transformer_modules(REPO / "api" / "Containerfile")
    needed: set[str] = set()
    todo = set().union(*(transformer_imports(p) for p in (REPO / "api").glob("*.py")))
    while todo:
        module = todo.pop()
        if module in needed:
            continue
        needed.add(module)
        todo |= transformer_imports(REPO / "transformer" / f"{module}.py")
    assert needed <= copied, f"api/Containerfile lacks transformer/{sorted(needed - copied)}.py"
