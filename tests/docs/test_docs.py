"""The docs stand alone: no link outside the repository, every relative link resolves, and the
contracts page names what the code defines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stack.relay import EVENT_TYPE as RELAY_EVENT_TYPE
from transformer import events, keys, model_contract, results

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "charts").glob("*/README.md")]
    + [*(REPO / "terraform").glob("**/README.md")]
)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve_inside_the_repository(page: Path) -> None:
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(REPO), f"{page.name} links outside the repo: {target}"
        assert resolved.exists(), f"{page.name}: broken link {target}"


def test_the_readme_links_the_docs() -> None:
    readme = (REPO / "README.md").read_text()
    assert "(docs/architecture.md)" in readme and "(docs/contracts.md)" in readme
    assert "shared/DESIGN" not in readme


def test_the_contracts_page_names_every_type_key_field_and_parameter() -> None:
    text = (REPO / "docs" / "contracts.md").read_text()
    for event_type in [*events.REPLY_TYPES, RELAY_EVENT_TYPE]:
        assert f"`{event_type}`" in text, event_type
    for prefix in (keys.INCOMING_PREFIX, keys.RESULTS_PREFIX, keys.SHADOW_PREFIX):
        assert f"`{prefix}" in text, prefix
    for field in results.ResultRecord.model_fields:
        assert f"`{field}`" in text, field
    for name in ("input_layout", "color_order", "scale", "mean", "std", "output_kind"):
        assert f"`{model_contract.PARAM_PREFIX}{name}`" in text, name
    assert f"`{model_contract.PARAM_PREFIX}person_classes`" in text
