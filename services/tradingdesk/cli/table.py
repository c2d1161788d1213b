"""Plain-text tables for the terminal: aligned columns, numbers right-aligned."""

from __future__ import annotations

from collections.abc import Sequence


def _numeric(text: str) -> bool:
    return bool(text) and text.lstrip("-").replace(".", "", 1).isdigit()


def render(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    numeric = [all(_numeric(r[i]) for r in cells) and bool(cells) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(r) for r in cells)
    if not cells:
        out.append("(none)")
    return "\n".join(out)
