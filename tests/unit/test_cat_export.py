"""CAT-style export: event type codes, New York nanosecond timestamps, lineage from parent to child and across
modifications, the trade-date filter, and validation against the JSON schema shipped in the package."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from tradingdesk.cat.records import CatExporter, cat_timestamp
from tradingdesk.cat.schema import problems, schema, validate_all
from tradingdesk.core.activity import Activity, OrderActivity
from tradingdesk.core.enums import OrderType, Side, TimeInForce
from tradingdesk.core.fixed import parse_fixed
from tradingdesk.spec.conduct import CatSpec

P = parse_fixed
T = 1_719_927_000 * 1_000_000_000 + 123_456_789  # 2024-07-02 09:30:00.123456789 New York
MS = 1_000_000


def act(kind: Activity, ts: int, oid: str, **kw: object) -> OrderActivity:
    fields: dict[str, object] = {"qty": P("1000"), "price": P("189.50"), "side": Side.BUY, "account": "ACC-1"}
    fields.update(kw)
    return OrderActivity(kind, ts, oid, symbol="AAPL", **fields)  # type: ignore[arg-type]


DAY = [
    act(Activity.NEW, T - 86_400_000 * MS, "gtc-1", tif=TimeInForce.GTC),  # entered the day before
    act(Activity.NEW, T, "parent-1"),
    act(Activity.NEW, T + 1 * MS, "child-1", qty=P("400"), parent_order_id="parent-1", venue="xnys"),
    act(Activity.ROUTE, T + 2 * MS, "child-1", qty=P("400"), venue="xnys"),
    act(
        Activity.FILL,
        T + 3 * MS,
        "child-1",
        qty=P("400"),
        fill_qty=P("100"),
        fill_price=P("189.49"),
        fee=P("0.3"),
        venue="xnys",
        exec_id="x-1",
        cum_qty=P("100"),
        leaves_qty=P("300"),
    ),
    act(Activity.MODIFY, T + 4 * MS, "child-2", qty=P("300"), prior_order_id="child-1", venue="xnys"),
    act(Activity.CANCEL, T + 5 * MS, "child-2", qty=P("300"), cum_qty=P("100")),
    act(
        Activity.FILL,
        T + 6 * MS,
        "gtc-1",
        fill_qty=P("1000"),
        fill_price=P("189.5"),
        venue="arca",
        exec_id="x-2",
        cum_qty=P("1000"),
    ),
    act(
        Activity.NEW,
        T + 7 * MS,
        "mkt-1",
        order_type=OrderType.MARKET,
        price=0,
        side=Side.SELL_SHORT,
        tif=TimeInForce.IOC,
    ),
    act(Activity.REJECT, T + 8 * MS, "mkt-2"),
    act(Activity.EXPIRE, T + 6 * 3_600_000 * MS, "parent-1"),
]


def export(events: list[OrderActivity] = DAY) -> list[dict]:
    return list(CatExporter(CatSpec(reporter_imid="TDSK"), date(2024, 7, 2)).records(events))


def test_event_types_and_lineage() -> None:
    records = export()
    assert [(r["type"], r["orderID"]) for r in records] == [
        ("MENO", "parent-1"),
        ("MECO", "child-1"),
        ("MEOR", "child-1"),
        ("MEOT", "child-1"),
        ("MECOM", "child-2"),
        ("MECOC", "child-2"),
        ("MEOT", "gtc-1"),
        ("MENO", "mkt-1"),
        ("MEOC", "parent-1"),
    ]  # the day before's NEW and the rejected order are not in the file
    by = {(r["type"], r["orderID"]): r for r in records}
    child = by["MECO", "child-1"]
    assert child["parentOrderID"] == "parent-1" and child["parentOrderKeyDate"] == "20240702 093000.123456789"
    modified = by["MECOM", "child-2"]
    assert modified["priorOrderID"] == "child-1" and modified["parentOrderID"] == "parent-1"
    assert modified["priorOrderKeyDate"] == "20240702 093000.124456789"
    assert by["MECOC", "child-2"]["cancelQty"] == "200" and by["MECOC", "child-2"]["initiator"] == "C"
    assert by["MEOC", "parent-1"]["initiator"] == "F"  # expired at the close by the firm
    gtc = by["MEOT", "gtc-1"]
    assert gtc["orderKeyDate"] == "20240701 093000.123456789" and gtc["marketCenterID"] == "arca"
    mkt = by["MENO", "mkt-1"]
    assert (
        mkt["side"] == "SS" and mkt["orderType"] == "MKT" and "price" not in mkt and mkt["timeInForce"] == {"IOC": True}
    )
    assert by["MENO", "parent-1"]["timeInForce"] == {"DAY": "20240702"}
    assert [r["firmROEID"] for r in records] == [f"20240702_{n}" for n in range(1, 10)]


def test_timestamps_are_new_york_time_to_the_nanosecond() -> None:
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    assert cat_timestamp(T, ny) == "20240702 093000.123456789"  # EDT, UTC-4
    assert cat_timestamp(1_704_205_800 * 1_000_000_000 + 1, ny) == "20240102 093000.000000001"  # EST, UTC-5


def test_every_record_validates_against_the_shipped_schema() -> None:
    records = export()
    validate_all(records)
    assert all(problems(r) == [] for r in records)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda r: r.pop("orderID"), "(record): 'orderID' is a required property"),
        (
            lambda r: r.update(eventTimestamp="2024-07-02T09:30:00"),
            "eventTimestamp: '2024-07-02T09:30:00' does not match",
        ),
        (lambda r: r.update(type="MEXX"), "type: 'MEXX' is not one of"),
        (lambda r: r.update(side="BUY"), "side: 'BUY' is not one of"),
        (lambda r: r.update(parentOrderID="p"), "parentOrderID: 'p' should not be valid under {}"),
        (lambda r: r.update(quantity="1e3"), "quantity: '1e3' does not match"),
        (lambda r: r.update(extra=1), "(record): Additional properties are not allowed ('extra' was unexpected)"),
    ],
)
def test_the_schema_refuses_broken_records(change, why: str) -> None:  # type: ignore[no-untyped-def]
    record = copy.deepcopy(export()[0])
    change(record)
    found = problems(record)
    assert found and found[0].startswith(why), found
    with pytest.raises(ValueError, match="CAT record 20240702_1: "):
        validate_all([record])


def test_a_route_without_its_schema_fields_is_refused() -> None:
    route = copy.deepcopy(export()[2])
    del route["destination"]
    assert problems(route) == ["(record): 'destination' is a required property"]


def test_an_event_without_its_orders_new_is_an_error() -> None:
    with pytest.raises(ValueError, match="order lost-1: a fill event without the order's NEW before it"):
        export([act(Activity.FILL, T, "lost-1", fill_qty=P("1"), fill_price=P("1"))])


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
