"""Message controls: throttles, the order-to-trade ratio, duplicate orders and the repeated-execution latch.

Throttles are sliding one-second windows per account and per account+strategy; the order-to-trade ratio
counts messages and trades in a tumbling window; duplicates are remembered for the longest window any scope
sets; repeated executions count orders filled per strategy and symbol and latch the strategy off.
"""

from __future__ import annotations

from collections import deque

from tradingdesk.core.clock import NS_PER_MS, NS_PER_SECOND
from tradingdesk.core.fixed import format_fixed
from tradingdesk.core.reject import refused, throttled

SUBMITS, MODIFIES, CANCELS = 0, 1, 2  # the throttled kinds of message
MESSAGE_KINDS = ("submits", "modifies", "cancels")


class MessageFlow:
    """Message counters of an account or an account+strategy (they outlive limit changes)."""

    __slots__ = ("messages", "trades", "window_start", "windows")

    def __init__(self) -> None:
        self.windows: tuple[deque[int], deque[int], deque[int]] = (deque(), deque(), deque())  # by kind
        self.window_start = 0  # of the order-to-trade window
        self.messages = 0
        self.trades = 0


class FlowRule:
    """One counter and the limits that apply to it, resolved with the scope's rules: an account counts with
    the tighter of the desk's and its own limits, an account+strategy with the strategy's own (``limited``:
    it has a limit set of its own; otherwise it only counts)."""

    __slots__ = ("flow", "limited", "per_second", "ratio", "scope_kind", "who")

    def __init__(
        self,
        flow: MessageFlow,
        *,
        scope_kind: str,
        who: str,
        limited: bool,
        submits: int,
        modifies: int,
        cancels: int,
        ratio: int,
    ) -> None:
        self.flow = flow
        self.scope_kind = scope_kind  # "account" or "strategy", for messages
        self.who = who
        self.limited = limited
        self.per_second = (submits, modifies, cancels)  # by kind; 0: no throttle
        self.ratio = ratio


def _over(window: deque[int], per_second: int, now_ns: int) -> bool:
    horizon = now_ns - NS_PER_SECOND
    while window and window[0] <= horizon:
        window.popleft()
    return len(window) >= per_second


def check_order_to_trade(rule: FlowRule, now_ns: int, *, window_s: int, min_messages: int) -> None:
    """Tumbling window: messages and trades count from the window's first message."""
    flow = rule.flow
    if not flow.window_start or now_ns - flow.window_start >= window_s * NS_PER_SECOND:
        flow.window_start = now_ns
        flow.messages = 0
        flow.trades = 0
    messages = flow.messages
    ratio = rule.ratio
    if ratio and messages >= min_messages and messages >= ratio * max(flow.trades, 1):
        raise refused(
            f"order-to-trade ratio: {rule.who} sent {messages} messages for {flow.trades} trades in this window "
            f"(limit {ratio} per trade)",
            "ORDER_TO_TRADE_RATIO",
        )


def throttle(rules: tuple[FlowRule, ...], now_ns: int, *, kind: int, code: str) -> None:
    """Sliding one-second windows of one kind of message (``SUBMITS``, ``MODIFIES`` or ``CANCELS``): every
    counter must have room, then each counts the message."""
    for rule in rules:
        limit = rule.per_second[kind]
        if limit and _over(rule.flow.windows[kind], limit, now_ns):
            raise throttled(f"{rule.scope_kind} {rule.who} exceeded {limit} {MESSAGE_KINDS[kind]} per second", code)
    for rule in rules:
        flow = rule.flow
        if rule.per_second[kind]:
            flow.windows[kind].append(now_ns)
        flow.messages += 1


DuplicateKey = tuple  # (account, strategy, symbol, side, order type, quantity, price)


class DuplicateDetector:
    """Orders seen within their scope's duplicate window; forgets each after the longest window of any scope."""

    def __init__(self) -> None:
        self._seen: dict[DuplicateKey, int] = {}
        self._in_order: deque[tuple[int, DuplicateKey]] = deque()
        self.longest_window_ns = 0

    def check(self, key: DuplicateKey, *, window_ns: int, now_ns: int) -> None:
        seen = self._seen.get(key)
        if seen is not None and now_ns - seen < window_ns:
            _, _, symbol, side, _, qty, price = key
            raise refused(
                f"duplicate order: the same {side.name} {format_fixed(qty)} {symbol} @ "
                f"{format_fixed(price) if price else 'market'} was sent {(now_ns - seen) // NS_PER_MS} ms ago "
                f"(window {window_ns // NS_PER_MS} ms)",
                "DUPLICATE_ORDER",
            )

    def remember(self, key: DuplicateKey, now_ns: int) -> None:
        self._seen[key] = now_ns
        in_order = self._in_order
        in_order.append((now_ns, key))
        horizon = now_ns - self.longest_window_ns
        while in_order and in_order[0][0] <= horizon:
            ts, old = in_order.popleft()
            if self._seen.get(old) == ts:
                del self._seen[old]


class RepeatedExecutions:
    """Orders of one strategy filled in one symbol within the window; too many latch the strategy off until a
    person re-enables it (FIA repeated automated execution throttle). An order counts once, at its first fill."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, str], deque[int]] = {}
        self._counted: set[str] = set()  # open orders already counted

    def forget(self, order_id: str) -> None:
        self._counted.discard(order_id)

    def count(
        self,
        *,
        order_id: str,
        account: str,
        strategy: str,
        symbol: str,
        limit: int,
        window_ms: int,
        now_ns: int,
        latched: bool,
    ) -> str | None:
        """Why the latch trips with this fill (never while ``latched`` already), or None."""
        if order_id in self._counted:
            return None
        self._counted.add(order_id)
        if not limit:
            return None
        key = (account, strategy, symbol)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque()
        horizon = now_ns - window_ms * NS_PER_MS
        while window and window[0] <= horizon:
            window.popleft()
        window.append(now_ns)
        if len(window) > limit and not latched:
            why = (
                f"{len(window)} orders of {account}/{strategy or '-'} filled in {symbol} within {window_ms} ms "
                f"(limit {limit})"
            )
            window.clear()
            return why
        return None


__all__ = [
    "DuplicateDetector",
    "MessageFlow",
    "RepeatedExecutions",
    "check_order_to_trade",
    "throttle",
]
