"""The request checks at the boundary of the contract: ids of visible ASCII, decimals of the contract's form."""

from __future__ import annotations

import pytest

from tradingdesk.core.ids import MAX_ID_LEN, check_id
from tradingdesk.core.reject import Reject, RejectKind
from tradingdesk.routing.requests import parse_decimal


@pytest.mark.parametrize("value", ["!", "~", "c-1", "x" * MAX_ID_LEN, "".join(map(chr, range(0x21, 0x7F)))[:64]])
def test_ids_of_visible_ascii_pass(value: str) -> None:
    assert check_id("client_order_id", value) == value


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "is required"),
        ("x" * (MAX_ID_LEN + 1), "longer than 64"),
        ("a b", "no spaces"),
        (" ", "no spaces"),
        ("a\x7f", "control"),
        ("a\x1f", "control"),
        ("caf\u00e9", "non-ASCII"),
        ("\u00a0", "non-ASCII"),
    ],
)
def test_other_ids_are_refused_naming_the_field(value: str, says: str) -> None:
    with pytest.raises(Reject) as exc:
        check_id("client_order_id", value)
    assert (exc.value.kind, exc.value.code) == (RejectKind.INVALID, "INVALID_ARGUMENT")
    assert exc.value.message.startswith("client_order_id: ") and says in exc.value.message


@pytest.mark.parametrize("text", [" 100", "100 ", "+100", " 185.63"])
def test_decimals_outside_the_contract_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(Reject) as exc:
        parse_decimal("limit_price", text)
    assert (exc.value.kind, exc.value.code) == (RejectKind.INVALID, "INVALID_ARGUMENT")
    assert exc.value.message.startswith(f"limit_price: {text!r} ")
