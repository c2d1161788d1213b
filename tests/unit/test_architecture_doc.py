"""docs/architecture.md names files and modules; each one it names exists, so the doc cannot drift from the code
without a test failing. The layer contract it describes is checked by import-linter in ``make lint``."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services" / "tradingdesk"
DOC = REPO / "docs" / "architecture.md"


def named_paths(text: str) -> set[str]:
    """Every ``dir/file.py`` and ``dir/`` the doc mentions (in backticks or the layer diagram)."""
    found = set(re.findall(r"\b([a-z_]+/(?:[a-z_]+/)*[a-z_]+\.py)\b", text))
    found |= {m.rstrip("/") for m in re.findall(r"`([a-z_]+(?:/[a-z_]+)*/)`", text)}
    for group, names in re.findall(r"\b([a-z_]+)/\{([a-z_,]+)\}\.py", text):
        found |= {f"{group}/{name}.py" for name in names.split(",")}
    return found


def test_every_file_the_architecture_doc_names_exists() -> None:
    text = DOC.read_text()
    paths = named_paths(text)
    assert len(paths) > 30, "the doc should walk an order through the files"
    missing = sorted(p for p in paths if not (SERVICES / p).exists() and not (REPO / p).exists())
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_the_layer_contract_the_doc_describes_is_the_one_linted() -> None:
    contract = (REPO / ".importlinter").read_text()
    assert "type = layers" in contract and "tradingdesk.core" in contract
    assert ".importlinter" in DOC.read_text()
