"""The one codec of journal events: every kind round-trips, version-0 records (written before the codec) decode
to the same events, a newer version is refused, and recovery rebuilds what the live path built."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.unit.desk_fixtures import D, ListJournal, make_desk, order
from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.event_codec import (
    EVENT_TYPES,
    ORDER_KINDS,
    StreamDecoder,
    UnknownKind,
    UnknownVersion,
    decode,
    encode,
    quantity_and_price,
    terms_payload,
)
from tradingdesk.core.events import (
    AccessDecision,
    AccessRecorded,
    CancelRejected,
    CancelRequested,
    FeedSwitched,
    Incident,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPending,
    OrderRejected,
    OrderReplaced,
    OrderRestated,
    OrderTerms,
    PositionReport,
    Refusal,
    ReplaceRejected,
    ReplaceRequested,
    RequestRefused,
    RiskLatched,
    VenueAckTimedOut,
    VenueFaultSet,
)
from tradingdesk.oms.requests import OrderRef, ReplaceRequest
from tradingdesk.storage.journal import JournalRecord

S = OrderStatus
TERMS = OrderTerms(
    order_id="O-1",
    client_order_id="c1",
    account="ACC",
    strategy="algo",
    symbol="AAPL",
    side=Side.BUY,
    order_type=OrderType.LIMIT,
    qty=D("100"),
    price=D("101.25"),
    tif=TimeInForce.GTD,
    expire_ns=9_000,
    created_ns=1_000,
)
REPLACEMENT = OrderTerms(
    order_id="O-2",
    client_order_id="c1-r",
    account="ACC",
    strategy="algo",
    symbol="AAPL",
    side=Side.BUY,
    order_type=OrderType.LIMIT,
    qty=D("150"),
    price=D("101.20"),
    tif=TimeInForce.GTD,
    expire_ns=9_000,
    created_ns=2_000,
    replaces_order_id="O-1",
)
STATE = {"cum_qty": D("40"), "cum_notional": D("4050"), "fees": -D("0.12"), "venue": "xnys"}

ONE_OF_EACH = [
    OrderPending(ts_ns=1_000, terms=TERMS, status=S.PENDING_NEW, venue="xnys", requested_venue="xnys"),
    OrderAccepted(ts_ns=1_100, terms=TERMS, status=S.NEW, venue="xnys"),
    OrderFilled(
        ts_ns=1_200,
        terms=TERMS,
        status=S.PARTIALLY_FILLED,
        **STATE,
        exec_id="X-1",
        last_qty=D("40"),
        last_price=D("101.25"),
        fee=-D("0.12"),
        liquidity="M",
        fill_venue="xnys",
    ),
    CancelRequested(ts_ns=1_300, terms=TERMS, status=S.PENDING_CANCEL, **STATE),
    CancelRejected(ts_ns=1_400, terms=TERMS, status=S.PARTIALLY_FILLED, **STATE, reason="too late"),
    ReplaceRequested(
        ts_ns=1_500,
        terms=TERMS,
        status=S.PENDING_REPLACE,
        **STATE,
        new_order_id="O-2",
        new_client_order_id="c1-r",
        new_qty=D("150"),
        new_price=D("101.20"),
    ),
    ReplaceRejected(ts_ns=1_600, terms=TERMS, status=S.PARTIALLY_FILLED, **STATE, reason="unknown order"),
    OrderReplaced(ts_ns=2_000, terms=REPLACEMENT, status=S.PARTIALLY_FILLED, **STATE),
    OrderCanceled(ts_ns=2_100, terms=REPLACEMENT, status=S.CANCELED, **STATE, text="IOC"),
    OrderExpired(ts_ns=9_000, terms=TERMS, status=S.EXPIRED, **STATE, text="expired"),
    VenueAckTimedOut(
        ts_ns=1_050,
        terms=TERMS,
        status=S.PENDING_CANCEL,
        venue="xnys",
        text="venue xnys did not acknowledge the order within 2000 ms; cancel sent",
    ),
    OrderRejected(ts_ns=1_100, terms=TERMS, status=S.REJECTED, venue="xnys", text="symbol halted at venue"),
    OrderRestated(
        ts_ns=1_700, terms=replace(TERMS, qty=D("60")), status=S.PARTIALLY_FILLED, **STATE, text="self-match prevention"
    ),
    RiskLatched(ts_ns=3_000, account="ACC", strategy="algo", symbol="AAPL", reason="4 fills in 1 s", tripped_ns=3_000),
    Incident(
        ts_ns=4_000,
        account="ACC",
        actor="ops",
        reason="drill",
        state_changed_ns=3_999,
        kill_id="K1",
        open_orders=1,
        cancelled=("O-2",),
        positions=(
            PositionReport(
                account="ACC",
                symbol="AAPL",
                qty=-D("40"),
                avg_cost=D("101.25"),
                mark=D("101.30"),
                realized_pnl=-D("0.12"),
                unrealized_pnl=-D("2"),
            ),
        ),
        realized_pnl=-D("0.12"),
        unrealized_pnl=-D("2"),
        flatten=True,
        flatten_orders=("O-3",),
    ),
    RequestRefused(
        ts_ns=5_000,
        account="ACC",
        symbol="AAPL",
        refusal=Refusal(
            method="SubmitOrder",
            door="session",
            reject_kind="refused",
            code="MAX_ORDER_QTY",
            status="FAILED_PRECONDITION",
            message="quantity 60000 is above the maximum 50000",
            request={"client_order_id": "c9", "account": "ACC", "symbol": "AAPL", "quantity": "60000"},
        ),
    ),
    FeedSwitched(
        ts_ns=6_000,
        feed="sip",
        from_line="A",
        to_line="B",
        reason="line A is silent: nothing received for 120 ms",
        failback=False,
        took_ns=120_000_000,
        switched_ns=5_990,
    ),
    VenueFaultSet(ts_ns=6_500, venue="xnys", mode="away", reason="drill", actor="sre-anna", door="cli"),
    AccessRecorded(
        ts_ns=7_000,
        decision=AccessDecision(
            ts_ns=7_000,
            identity="svc:trader-7",
            via="certificate",
            method="/tradingdesk.v1.OrderService/SubmitOrder",
            allowed=False,
            code="PERMISSION_DENIED",
            detail="not entitled to account ACC-2",
            request={"account": "ACC-2"},
            count=3,
        ),
    ),
]


def through_json(payload: dict) -> dict:
    return json.loads(json.dumps(payload))


def test_every_kind_has_one_event_type_and_round_trips() -> None:
    assert {type(e).kind for e in ONE_OF_EACH} == set(EVENT_TYPES)
    for event in ONE_OF_EACH:
        payload = through_json(encode(event))
        assert payload["v"] == 1
        assert decode(event.kind, event.order_id, event.ts_ns, payload) == event, event.kind


def test_payloads_stay_readable_for_an_auditor() -> None:
    payload = encode(ONE_OF_EACH[2])
    assert (payload["side"], payload["price"], payload["last_qty"], payload["fee"]) == ("BUY", "101.25", "40", "-0.12")
    assert (payload["status"], payload["leaves_qty"], payload["avg_price"]) == ("PARTIALLY_FILLED", "60", "101.25")


def test_version_0_records_decode_to_the_same_events() -> None:
    """Journals written before the codec have the same fields and no ``v``: they must replay unchanged."""
    for event in ONE_OF_EACH:
        payload = through_json(encode(event))
        del payload["v"]
        assert decode(event.kind, event.order_id, event.ts_ns, payload) == event, event.kind


def test_a_version_0_trade_written_by_hand_decodes() -> None:
    """A trade exactly as the engine wrote it before typed events existed (copied from such a journal)."""
    payload = {
        "client_order_id": "c1",
        "account": "ACC",
        "strategy": "",
        "symbol": "AAPL",
        "side": "SELL",
        "order_type": "LIMIT",
        "qty": "50",
        "price": "100.05",
        "tif": "DAY",
        "expire_ns": 0,
        "created_ns": 1700000000000000000,
        "status": "PARTIALLY_FILLED",
        "cum_qty": "30",
        "cum_notional": "3001.8",
        "leaves_qty": "20",
        "avg_price": "100.06",
        "fees": "-0.06",
        "venue": "xnys",
        "exec_id": "xnys-X-000007",
        "last_qty": "30",
        "last_price": "100.06",
        "fee": "-0.06",
        "liquidity": "M",
        "fill_venue": "xnys",
    }
    event = decode("trade", "O-9", 1700000000000000123, payload)
    assert isinstance(event, OrderFilled)
    assert (event.terms.side, event.last_qty, event.last_price, event.fee) == (
        Side.SELL,
        D("30"),
        D("100.06"),
        -D("0.06"),
    )
    assert (event.status, event.leaves_qty, event.avg_price) == (S.PARTIALLY_FILLED, D("20"), D("100.06"))


def test_a_newer_version_or_an_unknown_kind_is_refused_not_guessed() -> None:
    payload = encode(ONE_OF_EACH[1]) | {"v": 2}
    with pytest.raises(UnknownVersion, match="version 2"):
        decode("new", "O-1", 1, payload)
    with pytest.raises(UnknownVersion):
        StreamDecoder().decode("new", "O-1", 1, payload)
    with pytest.raises(UnknownKind, match="'mystery'"):
        decode("mystery", "O-1", 1, {"v": 1})


def test_stream_decoder_parses_terms_once_per_open_order() -> None:
    decoder = StreamDecoder()
    pending, accepted, filled = (through_json(encode(e)) for e in ONE_OF_EACH[:3])
    first = decoder.decode("pending_new", "O-1", 1_000, pending)
    second = decoder.decode("new", "O-1", 1_100, accepted)
    assert second.terms is first.terms
    assert decoder.decode("trade", "O-1", 1_200, filled) == ONE_OF_EACH[2]
    closed = decoder.decode("canceled", "O-1", 1_300, through_json(encode(ONE_OF_EACH[9])))
    assert not closed.is_open
    again = decoder.decode("new", "O-1", 1_400, accepted)
    assert again.terms is not first.terms and again.terms == first.terms, "forgotten once closed"


def test_stream_decoder_forgets_a_resting_orders_terms_unless_told_to_keep_them() -> None:
    pending, accepted, filled = (through_json(encode(e)) for e in ONE_OF_EACH[:3])
    consumer, engine = StreamDecoder(), StreamDecoder(keep_resting=True)
    firsts = {}
    for decoder in (consumer, engine):
        firsts[decoder] = decoder.decode("pending_new", "O-1", 1_000, pending)
        assert decoder.decode("new", "O-1", 1_100, accepted).terms is firsts[decoder].terms
    later = consumer.decode("trade", "O-1", 1_200, filled)
    assert later.terms is not firsts[consumer].terms and later == ONE_OF_EACH[2], "parsed again once it rested"
    assert engine.decode("trade", "O-1", 1_200, filled).terms is firsts[engine].terms


def test_quantity_and_price_are_the_journals_rendering_and_never_cached_by_reading_them() -> None:
    terms = replace(TERMS, encoded=None)
    assert quantity_and_price(terms) == ("100", "101.25") and terms.encoded is None, "a resting order keeps none"
    terms_payload(terms)  # the journal renders the terms of an order being worked and keeps them
    assert terms.encoded is not None
    assert quantity_and_price(terms) == (terms.encoded["qty"], terms.encoded["price"]) == ("100", "101.25")


def test_stream_decoder_reads_the_terms_a_restatement_changed() -> None:
    decoder = StreamDecoder()
    decoder.decode("pending_new", "O-1", 1_000, through_json(encode(ONE_OF_EACH[0])))
    restated = next(e for e in ONE_OF_EACH if isinstance(e, OrderRestated))
    event = decoder.decode("restated", "O-1", 1_700, through_json(encode(restated)))
    assert event.terms.qty == D("60") and event.leaves_qty == D("20")
    after = decoder.decode("trade", "O-1", 1_800, through_json(encode(replace(ONE_OF_EACH[2], terms=event.terms))))
    assert after.terms.qty == D("60"), "later records of the order keep the restated terms"


def test_order_kinds_are_the_executions() -> None:
    desk_kinds = {"risk_latch", "incident", "refused", "feed_switch", "venue_fault", "access"}
    assert set(EVENT_TYPES) - desk_kinds == ORDER_KINDS


def trade_and_replace(desk) -> None:
    desk.engine.submit(order(cl="a", qty="500", price="100.10"))
    desk.engine.submit(order(cl="b", side=Side.SELL, qty="300", price="100.05"))
    desk.engine.submit(order(cl="c", symbol="MSFT", qty="20", price="400.00"))
    desk.settle()
    desk.trade("AAPL", "100.06", "100")
    desk.settle()
    resting = desk.engine.by_client[("ACC", "c")]
    desk.engine.replace(
        ReplaceRequest(ref=OrderRef("ACC", resting, ""), new_client_order_id="c-r", qty=D("25"), price=None)
    )
    desk.engine.submit(order(cl="d", qty="10", price="99.00"))
    desk.settle()


def gate_state(gate) -> dict:
    return {
        scope: (book.open_notional, book.gross, book.net_long, book.net_short, book.position_value)
        for scope, book in gate.books.items()
    }


@pytest.mark.parametrize("version", [1, 0])
def test_recovery_replays_through_the_live_handlers(version: int) -> None:
    """Orders, positions and the gate's exposure after a rebuild equal the live ones, for journals of either
    version, and nothing is journaled again while replaying."""
    live = make_desk().priced()
    trade_and_replace(live)
    records = live.journal.records
    if version == 0:
        records = [
            JournalRecord(r.seq, r.ts_ns, r.kind, r.order_id, {k: v for k, v in r.payload.items() if k != "v"})
            for r in records
        ]
    twin_journal = ListJournal()
    twin = make_desk(journal=twin_journal)
    for symbol, ref in live.gate.references.items():  # the same marks as the live desk has now
        twin.gate.on_trade(symbol, ref.price, ref.ts_ns)
    assert twin.engine.rebuild(records) == len(records)
    assert twin_journal.records == [], "replaying writes nothing"
    orders = lambda e: {  # noqa: E731
        oid: (o.status, o.cum_qty, o.cum_notional, o.fees, o.text, o.replaced_by_order_id)
        for oid, o in e.orders.items()
    }
    assert orders(twin.engine) == orders(live.engine)
    assert [vars_of(p) for p in twin.engine.positions.all()] == [vars_of(p) for p in live.engine.positions.all()]
    assert set(twin.engine.open_orders) == set(live.engine.open_orders) == twin.engine.unseated
    assert gate_state(twin.gate) == gate_state(live.gate)
    assert twin.gate.open_order_ids() == live.gate.open_order_ids()


def vars_of(p) -> tuple:
    return (p.account, p.symbol, p.qty, p.avg_cost, p.realized_pnl, p.fees)
