"""Fixed-point decimals for prices, quantities and money.

Every amount is a Python ``int`` counting units of ``10**-SCALE_DIGITS``. Floats never enter the domain:
text from the wire is parsed digit by digit, so "0.1" is exactly 100_000_000 units and ``NaN``, ``inf``
or exponents are refused instead of being rounded into something plausible.
"""

from __future__ import annotations

from typing import NewType

SCALE_DIGITS = 9
SCALE = 10**SCALE_DIGITS

Price = NewType("Price", int)
Qty = NewType("Qty", int)
Money = NewType("Money", int)

# 10^15 units of anything is far beyond any real order; larger values are typos or attacks.
MAX_WHOLE_DIGITS = 15


class DecimalFormatError(ValueError):
    """Raised when text is not a plain decimal number; the message says what is wrong."""


def parse_fixed(text: str, *, allow_negative: bool = False) -> int:
    """Parse a plain decimal string ("101.25", "0.000000001", and "-3" where negatives are allowed) into
    fixed-point units.

    Exactly the contract's form: ASCII digits with at most one '.', and a leading '-' only where negatives
    are allowed. Whitespace and a '+' sign are refused rather than tolerated: a parser laxer than the
    contract lets clients depend on forms another implementation of the contract would refuse.
    """
    if not isinstance(text, str):
        raise DecimalFormatError(f"expected a decimal string, got {type(text).__name__}")
    if not text:
        raise DecimalFormatError("is empty")
    if not text.isascii():
        raise DecimalFormatError(f"{text!r} is not a plain decimal number (ASCII digits only)")
    if text != text.strip():
        raise DecimalFormatError(f"{text!r} has leading or trailing whitespace")
    negative = text[0] == "-"
    if text[0] == "+":
        raise DecimalFormatError(f"{text!r} has a '+' sign (write the digits alone)")
    s = text[1:] if negative else text
    if negative and not allow_negative:
        raise DecimalFormatError(f"{text!r} is negative")
    whole, dot, frac = s.partition(".")
    if not whole and not frac:
        raise DecimalFormatError(f"{text!r} is not a decimal number")
    if not (whole.isdigit() or whole == "") or not (frac.isdigit() or frac == ""):
        raise DecimalFormatError(f"{text!r} is not a plain decimal number (digits and one '.', no exponent)")
    if dot and not frac:
        raise DecimalFormatError(f"{text!r} has no digits after '.'")
    whole = whole.lstrip("0")
    if len(whole) > MAX_WHOLE_DIGITS:
        raise DecimalFormatError(f"{text!r} is too large (more than {MAX_WHOLE_DIGITS} whole digits)")
    frac_digits = frac.rstrip("0")
    if len(frac_digits) > SCALE_DIGITS:
        raise DecimalFormatError(f"{text!r} has more than {SCALE_DIGITS} decimal places")
    units = int(whole or "0") * SCALE + int((frac_digits or "0").ljust(SCALE_DIGITS, "0"))
    return -units if negative else units


def format_fixed(units: int) -> str:
    """Render units as the shortest exact decimal string ("101.25", "3", "-0.5")."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), SCALE)
    if not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{SCALE_DIGITS}d}".rstrip("0")


AVERAGE_PRICE_PLACES = 6
"""Decimal places of an average price (an order's avg_price, a position's avg_cost) as clients see it."""
PNL_PLACES = 2
"""Decimal places of P&L (realized, unrealized, daily, drawdown) as clients see it."""


def round_half_even(units: int, places: int) -> int:
    """``units`` rounded to ``places`` decimal places, ties to the even neighbour (banker's rounding).

    The domain keeps exact units; averages and P&L carry the truncation of a division and are rounded only
    where people and clients read them (the wire and the terminal), with this one function.
    """
    if not 0 <= places <= SCALE_DIGITS:
        raise ValueError(f"places must be between 0 and {SCALE_DIGITS}, got {places}")
    step = 10 ** (SCALE_DIGITS - places)
    q, r = divmod(units, step)  # floor division: r is never negative, so ties are found the same way for both signs
    if 2 * r > step or (2 * r == step and q % 2):
        q += 1
    return q * step


def format_average_price(units: int) -> str:
    """An average price as clients see it: rounded half-even to ``AVERAGE_PRICE_PLACES``."""
    return format_fixed(round_half_even(units, AVERAGE_PRICE_PLACES))


def format_pnl(units: int) -> str:
    """P&L as clients see it: rounded half-even to ``PNL_PLACES``."""
    return format_fixed(round_half_even(units, PNL_PLACES))


def to_units(value: int) -> int:
    """Whole number to fixed-point units (for constants in code and tests)."""
    return value * SCALE


def mul(a: int, b: int) -> int:
    """Product of two fixed-point values, truncated toward zero (notional = price x quantity)."""
    product = a * b
    return product // SCALE if product >= 0 else -((-product) // SCALE)


def div(a: int, b: int) -> int:
    """Quotient of two fixed-point values, truncated toward zero (average price = notional / quantity)."""
    if b == 0:
        raise ZeroDivisionError("fixed-point division by zero")
    num = a * SCALE
    q = abs(num) // abs(b)
    return q if (num >= 0) == (b > 0) else -q


def bps_of(value: int, bps: int) -> int:
    """``bps`` basis points of ``value`` (fees, collars), truncated toward zero."""
    product = value * bps
    return product // 10_000 if product >= 0 else -((-product) // 10_000)


def is_multiple(value: int, step: int) -> bool:
    """Whether ``value`` lies on the grid of ``step`` (tick size, lot size)."""
    return step > 0 and value % step == 0


def to_float(units: int) -> float:
    """For display and statistics only (charts, VaR inputs); never feed the result back into the domain."""
    return units / SCALE
