"""docs/infra.md: its configuration reference is the generated one, and its `pulumi config set` lines make a stack
the program accepts (and can plan)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from deskinfra.config import load
from deskinfra.configref import BEGIN, END, table
from deskinfra.plan import build, read_desks
from tests.infra.mocks import INFRA

DOC = Path(__file__).resolve().parents[2] / "docs" / "infra.md"


def test_config_reference_is_current() -> None:
    text = DOC.read_text()
    body = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert body == table().strip(), "regenerate it with: PYTHONPATH=infra python -m deskinfra.configref"


def _slot(container: Any, index: Any, empty: Any) -> Any:
    """The child at ``index``, created as ``empty`` (a list grows to reach it)."""
    if isinstance(container, list):
        container.extend([None] * (index + 1 - len(container)))
        if container[index] is None:
            container[index] = empty
        return container[index]
    return container.setdefault(index, empty)


def set_path(config: dict[str, Any], key: str, value: str) -> None:
    """`pulumi config set --path`: ``ns:a.b[0]`` sets a nested list or map entry."""
    namespace, _, path = key.partition(":")
    parts = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]
    container, index = config, f"{namespace}:{parts[0]}"
    for part in parts[1:]:
        container, index = _slot(container, index, [] if isinstance(part, int) else {}), part
    _slot(container, index, None)
    container[index] = value


def doc_config() -> dict[str, str]:
    config: dict[str, Any] = {}
    for line in DOC.read_text().splitlines():
        if not line.startswith("pulumi config set "):
            continue
        args = [a for a in shlex.split(line)[3:] if a not in ("--path", "--secret")]
        key, value = args
        set_path(config, key, value)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def test_the_docs_config_commands_make_a_stack_the_program_plans() -> None:
    values = doc_config()
    assert values["tradingdesk:desks"] == json.dumps(["../examples/desk.yaml"])
    cfg = load(values)
    assert cfg.network.availability_zones == ["us-east-1a", "us-east-1b"]
    plan = build(cfg, read_desks(cfg.desks, INFRA), "prod")
    assert [p.colocation for p in plan.node_pools] == ["ny4"]
    assert plan.node_pools[0].instance_types == ("c7i.4xlarge",)
