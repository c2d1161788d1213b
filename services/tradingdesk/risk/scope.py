"""Scopes of risk: the whole desk, an account, or one strategy of an account, and the one way to name them."""

from __future__ import annotations

from functools import lru_cache

ScopeKey = tuple[str, str]  # (account, strategy); ("", "") is the whole desk
DESK_SCOPE: ScopeKey = ("", "")


def scope_label(scope: ScopeKey) -> str:
    """How people read a scope: ``desk``, ``ACC`` or ``ACC/algo``."""
    return "/".join(part for part in scope if part) or "desk"


@lru_cache(maxsize=4096)
def scopes_of(account: str, strategy: str) -> tuple[ScopeKey, ...]:
    """Every scope an order of ``account``/``strategy`` counts in, widest first. Cached: every open order keeps
    its scopes, and a desk has a few accounts and strategies, so 100,000 orders share a handful of tuples rather
    than holding ~110 bytes of their own each."""
    if strategy:
        return (DESK_SCOPE, (account, ""), (account, strategy))
    return (DESK_SCOPE, (account, ""))
