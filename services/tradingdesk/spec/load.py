"""Loading a desk from YAML with errors a person can act on: the field path and the rule it broke."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tradingdesk.spec.model import TradingDesk


class SpecError(ValueError):
    """The desk document is invalid; ``problems`` lists one "field: rule" line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: invalid TradingDesk:\n" + "\n".join(f"  - {p}" for p in problems))


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe(exc: ValidationError) -> list[str]:
    """One line per pydantic error: ``spec.instruments[2].tickSize: must be > 0``."""
    lines = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        loc = _path(err["loc"])
        if msg.startswith("spec."):
            lines.extend(msg.split("; "))
        elif loc:
            lines.append(f"{loc}: {msg}")
        else:
            lines.append(msg)
    return lines


def parse_desk(document: Any, source: str = "<document>") -> TradingDesk:
    if not isinstance(document, dict):
        raise SpecError(source, ["the document must be a mapping with apiVersion, kind, metadata and spec"])
    try:
        return TradingDesk.model_validate(document)
    except ValidationError as exc:
        raise SpecError(source, describe(exc)) from None


def load_desk(path: str | Path) -> TradingDesk:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SpecError(str(p), [f"cannot read the file: {exc.strerror}"]) from None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise SpecError(str(p), [f"not valid YAML: {exc}"]) from None
    desks = [d for d in docs if isinstance(d, dict) and d.get("kind") == "TradingDesk"]
    if len(desks) != 1:
        raise SpecError(str(p), [f"expected exactly one TradingDesk document, found {len(desks)}"])
    return parse_desk(desks[0], str(p))
