"""What applies to an order of one account and strategy, resolved once per limits version.

A limit set at the desk applies to every order; an account's or strategy's own set can only tighten it.
Per-order limits (quantity, notional, collar) take the smallest value any scope sets. Exposure limits
(credit, position, gross, net, concentration) compare each scope's own orders and positions with that scope's
limits. Message limits (throttles, order-to-trade ratio) count per account, with the smaller of the desk's and
the account's value, and per account+strategy with the strategy's own value.
"""

from __future__ import annotations

from tradingdesk.core.clock import NS_PER_MS
from tradingdesk.core.fixed import bps_of
from tradingdesk.risk.gate.exposure import ExposureBook, ExposureBooks
from tradingdesk.risk.gate.flow import FlowRule, MessageFlow
from tradingdesk.risk.limits import Limits, LimitSet, StateEntry
from tradingdesk.risk.scope import DESK_SCOPE, ScopeKey


def tightest(*values: int) -> int:
    """The smallest non-zero value (0 when none is set)."""
    set_values = [v for v in values if v]
    return min(set_values) if set_values else 0


class ScopeRules:
    """What the gate resolved for one (account, strategy): effective per-order caps, the books and counters it
    checks, and the most restrictive trading state (re-read when the states' version moves)."""

    __slots__ = (
        "account_book",
        "account_key",
        "collar_bps",
        "duplicate_window_ns",
        "exposure",
        "flows",
        "max_notional",
        "max_qty",
        "ratio_flows",
        "restricted",
        "state_entry",
        "state_version",
        "strategy_key",
    )


ExposureRule = tuple[LimitSet, ExposureBook, int, int]  # limits, book, symbol cap, sector cap (money)


def resolve(
    limits: Limits, *, account: str, strategy: str, books: ExposureBooks, flows: dict[ScopeKey, MessageFlow]
) -> ScopeRules:
    account_key = (account, "")
    strategy_key = (account, strategy)
    account_set = limits.scopes.get(account_key)
    strategy_set = limits.scopes.get(strategy_key) if strategy else None
    sets = [s for s in (limits, account_set, strategy_set) if s is not None]
    rules = ScopeRules()
    rules.account_key = account_key
    rules.strategy_key = strategy_key
    rules.max_qty = tightest(*(s.max_order_quantity for s in sets))
    rules.max_notional = tightest(*(s.max_order_notional for s in sets))
    rules.collar_bps = tightest(*(s.price_collar_bps for s in sets))
    rules.duplicate_window_ns = max(s.duplicate_window_ms for s in sets) * NS_PER_MS
    rules.restricted = frozenset().union(*(s.restricted_symbols for s in sets))
    desk_book = books.book(DESK_SCOPE)
    rules.account_book = books.book(account_key)
    strategy_book = books.book(strategy_key) if strategy else None
    rules.exposure = tuple(
        (
            s,
            book,
            bps_of(s.max_gross_exposure, s.max_symbol_concentration_bps),
            bps_of(s.max_gross_exposure, s.max_sector_concentration_bps),
        )
        for s, book in ((limits, desk_book), (account_set, rules.account_book), (strategy_set, strategy_book))
        if s is not None and book is not None and s.has_exposure_limits
    )
    acct = account_set
    account_flow = FlowRule(
        flows.get(account_key) or flows.setdefault(account_key, MessageFlow()),
        scope_kind="account",
        who=account,
        limited=True,
        submits=tightest(limits.max_submits_per_second, acct.max_submits_per_second if acct else 0),
        modifies=tightest(limits.max_modifies_per_second, acct.max_modifies_per_second if acct else 0),
        cancels=tightest(limits.max_cancels_per_second, acct.max_cancels_per_second if acct else 0),
        ratio=tightest(limits.max_order_to_trade_ratio, acct.max_order_to_trade_ratio if acct else 0),
    )
    rules.flows = (account_flow,)
    if strategy:
        own = strategy_set
        rules.flows += (
            FlowRule(
                flows.get(strategy_key) or flows.setdefault(strategy_key, MessageFlow()),
                scope_kind="strategy",
                who=f"{account}/{strategy}",
                limited=own is not None,
                submits=own.max_submits_per_second if own else 0,
                modifies=own.max_modifies_per_second if own else 0,
                cancels=own.max_cancels_per_second if own else 0,
                ratio=own.max_order_to_trade_ratio if own else 0,
            ),
        )
    rules.ratio_flows = tuple(rule for rule in rules.flows if rule.limited)
    rules.state_version = -1
    return rules


def most_restrictive(states: dict[ScopeKey, StateEntry], rules: ScopeRules, strategy: str) -> StateEntry:
    """The most restrictive trading state among the desk, the account and the account+strategy."""
    worst = states[DESK_SCOPE]
    for key in (rules.account_key, rules.strategy_key) if strategy else (rules.account_key,):
        entry = states.get(key)
        if entry is not None and entry.state > worst.state:
            worst = entry
    return worst
