"""Order-domain enumerations. Values match the protobuf enums one for one so conversion is an int cast."""

from __future__ import annotations

from enum import IntEnum


class Side(IntEnum):
    BUY = 1
    SELL = 2
    SELL_SHORT = 3


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2


class TimeInForce(IntEnum):
    DAY = 1
    GTC = 2
    IOC = 3
    FOK = 4
    GTD = 5


class OrderStatus(IntEnum):
    """FIX 4.4 OrdStatus (tag 39) values an order can be in."""

    PENDING_NEW = 1
    NEW = 2
    PARTIALLY_FILLED = 3
    FILLED = 4
    PENDING_CANCEL = 5
    CANCELED = 6
    PENDING_REPLACE = 7
    REPLACED = 8
    REJECTED = 9
    EXPIRED = 10


class ExecType(IntEnum):
    """FIX 4.4 ExecType (tag 150) values of execution reports."""

    PENDING_NEW = 1
    NEW = 2
    TRADE = 3
    PENDING_CANCEL = 4
    CANCELED = 5
    PENDING_REPLACE = 6
    REPLACED = 7
    REJECTED = 8
    EXPIRED = 9
    CANCEL_REJECTED = 10
    REPLACE_REJECTED = 11
    RESTATED = 12
    """FIX 150=D: the venue changed the order on its own (self-match prevention decremented it)."""


class SelfMatchMode(IntEnum):
    """What a venue does when two orders of one self-match group would trade with each other."""

    CANCEL_NEWEST = 1
    """The incoming order's remainder is cancelled; the resting one stays."""
    CANCEL_OLDEST = 2
    """The resting order is cancelled; the incoming one goes on matching."""
    CANCEL_BOTH = 3
    DECREMENT_AND_CANCEL = 4
    """Both are reduced by the smaller open quantity; whichever is left with nothing is cancelled."""


class TradingState(IntEnum):
    ACTIVE = 1
    REDUCING = 2
    HALTED = 3


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REPLACED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


def side_sign(side: Side) -> int:
    """+1 for buys, -1 for sells: the direction a fill moves the position."""
    return 1 if side == Side.BUY else -1
