import pytest

from tradingdesk.core.fixed import SCALE, DecimalFormatError, bps_of, div, format_fixed, mul, parse_fixed


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("0", 0),
        ("1", SCALE),
        ("0.1", SCALE // 10),
        ("101.25", 101 * SCALE + SCALE // 4),
        ("0.000000001", 1),
        ("007.50", 7 * SCALE + SCALE // 2),
        (" 3 ", 3 * SCALE),
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
