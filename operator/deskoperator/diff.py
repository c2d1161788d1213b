"""Is a live object still what the operator rendered? Only the fields the operator sets are compared.

Why not plain equality: the API server adds defaults (clusterIP, terminationMessagePath, strategy fields ...)
and other controllers add their own fields and annotations; none of that is drift. What is drift: a field
the operator renders that is missing or holds another value. Quantities are compared by value because the
API server may print ``1000m`` back as ``1``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_QUANTITY = re.compile(r"^([+-]?[0-9]*\.?[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
_SUFFIX = {
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def quantity(text: str) -> Decimal | None:
    """The value of a Kubernetes quantity string, or None if it is not one."""
    m = _QUANTITY.match(text.strip())
    if not m:
        return None
    number, suffix = m.group(1), m.group(2) or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number + suffix)
        return Decimal(number) * _SUFFIX[suffix]
    except InvalidOperation:
        return None


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == [] or value == ""


def _same_scalar(want: Any, have: Any, path: str) -> bool:
    if want == have:
        return True
    if ".resources." in path and isinstance(want, str) and isinstance(have, str):
        a, b = quantity(want), quantity(have)
        return a is not None and a == b
    return False


def differences(want: Any, have: Any, path: str = "") -> list[str]:
    """Paths where ``have`` does not contain ``want``: every rendered field, with the rendered value."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [path or "."] if not (_empty(want) and _empty(have)) else []
        out: list[str] = []
        for k, v in want.items():
            sub = f"{path}.{k}"
            if k not in have:
                if not _empty(v):
                    out.append(sub)
                continue
            out.extend(differences(v, have[k], sub))
        return out
    if isinstance(want, list):
        if not isinstance(have, list):
            return [] if _empty(want) and _empty(have) else [path]
        if len(want) != len(have):
            return [path]
        out = []
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            out.extend(differences(w, h, f"{path}[{i}]"))
        return out
    return [] if _same_scalar(want, have, path) else [path]


# What a rendered object's comparison leaves out: identity fields that the server owns.
IGNORED_METADATA = ("namespace",)


def drift(rendered: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """Fields of ``rendered`` that ``live`` lacks or holds differently (empty list: in sync)."""
    want = {k: v for k, v in rendered.items() if k not in ("apiVersion", "kind")}
    want["metadata"] = {k: v for k, v in rendered.get("metadata", {}).items() if k not in IGNORED_METADATA}
    return differences(want, live)
