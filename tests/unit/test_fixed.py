import re

import pytest

from tradingdesk.core.fixed import (
    SCALE,
    DecimalFormatError,
    bps_of,
    div,
    format_average_price,
    format_fixed,
    format_pnl,
    mul,
    parse_fixed,
    round_half_even,
)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("0", 0),
        ("1", SCALE),
        ("0.1", SCALE // 10),
        ("101.25", 101 * SCALE + SCALE // 4),
        ("0.000000001", 1),
        ("007.50", 7 * SCALE + SCALE // 2),
        (".5", SCALE // 2),
        ("2.", None),
    ],
)
def test_parse(text: str, units: int | None) -> None:
    if units is None:
        with pytest.raises(DecimalFormatError):
            parse_fixed(text)
    else:
        assert parse_fixed(text) == units


@pytest.mark.parametrize(
    "text",
    [
        "",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "1e3",
        "1E-2",
        "0x10",
        "1,000",
        "--1",
        "1.2.3",
        ".",
        "+",
        "١٢",
        "1_000",
        "0.0000000001",
        "1" * 16,
        "-5",
        "1.\u0661",
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(DecimalFormatError):
        parse_fixed(text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (" 100", "whitespace"),
        ("100 ", "whitespace"),
        (" 185.63", "whitespace"),
        ("\t1", "whitespace"),
        ("1\n", "whitespace"),
        ("\u00a0100", "ASCII"),
        ("+100", "'+' sign"),
        ("+0.5", "'+' sign"),
        ("1 00", "digits and one '.'"),
        ("-1 ", "whitespace"),
    ],
)
def test_parse_is_as_strict_as_the_contract(text: str, says: str) -> None:
    """common.proto: plain decimal strings; nothing around the digits, no '+' (even where '-' is allowed)."""
    for allow_negative in (False, True):
        with pytest.raises(DecimalFormatError, match=re.escape(says)):
            parse_fixed(text, allow_negative=allow_negative)


def test_negative_only_when_allowed() -> None:
    assert parse_fixed("-2.5", allow_negative=True) == -2 * SCALE - SCALE // 2


@pytest.mark.parametrize("text", ["0", "1", "101.25", "0.000000001", "-3.5", "123456789012345.123456789"])
def test_format_round_trip(text: str) -> None:
    assert format_fixed(parse_fixed(text, allow_negative=True)) == text


def test_arithmetic_is_exact() -> None:
    price, qty = parse_fixed("0.1"), parse_fixed("3")
    assert format_fixed(mul(price, qty)) == "0.3"  # 0.1 * 3 == 0.30000000000000004 in floats
    assert format_fixed(div(parse_fixed("1"), parse_fixed("3"))) == "0.333333333"
    assert format_fixed(bps_of(parse_fixed("200"), 25)) == "0.5"
    assert mul(parse_fixed("-1.5", allow_negative=True), parse_fixed("2")) == parse_fixed("-3", allow_negative=True)


@pytest.mark.parametrize(
    ("text", "places", "rounded"),
    [
        ("189.789999999", 6, "189.79"),
        ("189.7899995", 6, "189.79"),  # tie, the even neighbour is up
        ("189.7899985", 6, "189.789998"),  # tie, the even neighbour is down
        ("-119.9999995", 2, "-120"),
        ("0.125", 2, "0.12"),
        ("0.135", 2, "0.14"),
        ("-0.125", 2, "-0.12"),
        ("-0.135", 2, "-0.14"),
        ("-0.005", 2, "0"),
        ("0.0049", 2, "0"),
        ("2.5", 0, "2"),
        ("3.5", 0, "4"),
        ("1.000000001", 9, "1.000000001"),
    ],
)
def test_round_half_even(text: str, places: int, rounded: str) -> None:
    assert format_fixed(round_half_even(parse_fixed(text, allow_negative=True), places)) == rounded


def test_display_precisions() -> None:
    """The issue's example: a 500-share position at 189.79 marked at 189.55."""
    assert format_average_price(parse_fixed("189.789999999")) == "189.79"
    assert format_pnl(parse_fixed("-119.9999995", allow_negative=True)) == "-120"
    with pytest.raises(ValueError):
        round_half_even(1, 10)
