"""Every RPC refuses bad input with the right status code and a message naming the field, and changes
nothing. One desk serves the whole module; each case checks that the desk's state is unchanged after it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from tests import access
from tests.desk_runner import DeskProcess, wait_until, write_desk
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.v1 import (
    common_pb2,
    compliance_pb2,
    compliance_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

pytestmark = pytest.mark.slow
C = grpc.StatusCode


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory):
    def tune(doc: dict) -> None:
        doc["spec"]["risk"]["restrictedSymbols"] = ["KO"]
        doc["spec"]["risk"]["maxOrderQuantity"] = "5000"
        doc["spec"]["risk"]["maxOrderNotional"] = "500000"
        doc["spec"]["risk"]["maxSubmitsPerSecond"] = 20
        doc["spec"]["accounts"].append({"name": "ACC-THROTTLE"})

    proc = DeskProcess(write_desk(tmp_path_factory.mktemp("badinput"), tune))
    try:
        proc.wait_up()
        yield proc
    finally:
        assert proc.stop() == 0


@pytest.fixture(scope="module")
def orders(desk: DeskProcess) -> orders_pb2_grpc.OrderServiceStub:
    stub = orders_pb2_grpc.OrderServiceStub(desk.channel("routing"))
    market = market_data_pb2_grpc.MarketDataServiceStub(desk.channel("feeds"))

    def answering() -> bool:  # the gate needs reference prices before anything can trade
        try:
            market.GetQuote(market_data_pb2.GetQuoteRequest(symbol="AAPL"), timeout=1)
            stub.ListOrders(orders_pb2.ListOrdersRequest(), timeout=1)
            return True
        except grpc.RpcError:
            return False

    wait_until(answering, 15, 0.1, what="feeds to quote AAPL and routing to answer")
    return stub


@pytest.fixture(scope="module")
def aapl(desk: DeskProcess, orders) -> dict[str, str]:
    market = market_data_pb2_grpc.MarketDataServiceStub(desk.channel("feeds"))
    q = market.GetQuote(market_data_pb2.GetQuoteRequest(symbol="AAPL"), timeout=5)
    bid = parse_fixed(q.bid_price)
    return {"passive": format_fixed(bid * 99 // 100 // 10_000_000 * 10_000_000), "ask": q.ask_price}


def state(orders) -> tuple:
    listed = orders.ListOrders(orders_pb2.ListOrdersRequest(limit=10_000), timeout=5)
    positions = orders.GetPositions(orders_pb2.GetPositionsRequest(), timeout=5)
    return (
        sorted((o.order_id, o.status, o.quantity, o.limit_price, o.cum_quantity) for o in listed.orders),
        sorted((p.account, p.symbol, p.quantity) for p in positions.positions),
    )


def refused(orders, call: Callable[[], object], code: grpc.StatusCode, *words: str) -> grpc.RpcError:
    before = state(orders)
    with pytest.raises(grpc.RpcError) as exc:
        call()
    err = exc.value
    assert err.code() == code, err.details()
    for word in words:
        assert word in err.details(), err.details()
    assert state(orders) == before, "a refused request changed the desk"
    return err


def submit(**fields) -> orders_pb2.SubmitOrderRequest:
    base = dict(
        client_order_id=f"bad-{time.monotonic_ns()}",
        account="ACC-EQ-1",
        strategy="manual",
        symbol="AAPL",
        side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        quantity="10",
        limit_price="100.00",
        time_in_force=common_pb2.TIME_IN_FORCE_DAY,
    )
    base.update(fields)
    return orders_pb2.SubmitOrderRequest(**base)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"client_order_id": ""}, ["client_order_id", "required"]),
        ({"client_order_id": "x" * 65}, ["client_order_id", "longer"]),
        ({"client_order_id": "has space"}, ["client_order_id", "no spaces"]),
        ({"client_order_id": " "}, ["client_order_id", "no spaces"]),
        ({"client_order_id": "del\x7f"}, ["client_order_id", "control"]),
        ({"client_order_id": "tab\t"}, ["client_order_id", "control"]),
        ({"client_order_id": "caf\u00e9"}, ["client_order_id", "non-ASCII"]),
        ({"client_order_id": "\u00a0nbsp"}, ["client_order_id", "non-ASCII"]),
        ({"account": ""}, ["account", "required"]),
        ({"account": "NOBODY"}, ["account", "NOBODY"]),
        ({"strategy": "hft"}, ["strategy", "hft"]),
        ({"symbol": ""}, ["symbol", "required"]),
        ({"symbol": "ZZZZ"}, ["symbol", "ZZZZ"]),
        ({"symbol": "A" * 5000}, ["symbol"]),
        ({"side": common_pb2.SIDE_UNSPECIFIED}, ["side"]),
        ({"side": 99}, ["side"]),
        ({"order_type": common_pb2.ORDER_TYPE_UNSPECIFIED}, ["order_type"]),
        ({"quantity": ""}, ["quantity", "required"]),
        ({"quantity": "-5"}, ["quantity", "negative"]),
        ({"quantity": "0"}, ["quantity", "> 0"]),
        ({"quantity": "NaN"}, ["quantity"]),
        ({"quantity": "inf"}, ["quantity"]),
        ({"quantity": "1e3"}, ["quantity", "exponent"]),
        ({"quantity": "1.5"}, ["quantity", "lot size"]),
        ({"quantity": "9" * 40}, ["quantity", "too large"]),
        ({"limit_price": ""}, ["limit_price", "required"]),
        ({"limit_price": "0"}, ["limit_price", "> 0"]),
        ({"limit_price": "-1"}, ["limit_price", "negative"]),
        ({"limit_price": "100.001"}, ["limit_price", "tick size"]),
        ({"limit_price": "nan"}, ["limit_price"]),
        ({"limit_price": "1" + "0" * 20}, ["limit_price", "too large"]),
        ({"order_type": common_pb2.ORDER_TYPE_MARKET}, ["limit_price", "market"]),
        ({"time_in_force": 42}, ["time_in_force"]),
        ({"time_in_force": common_pb2.TIME_IN_FORCE_GTD}, ["expire_time_ns", "future"]),
        ({"expire_time_ns": 1}, ["expire_time_ns", "GTD"]),
        ({"venue": "nyse-arca"}, ["venue", "nyse-arca"]),
    ],
)
def test_submit_invalid_argument(orders, fields: dict, words: list[str]) -> None:
    refused(orders, lambda: orders.SubmitOrder(submit(**fields), timeout=5), C.INVALID_ARGUMENT, *words)


@pytest.mark.parametrize(
    ("fields", "reject_code"),
    [
        ({"quantity": "5001"}, "MAX_ORDER_QTY"),
        ({"quantity": "4000", "limit_price": "PASSIVE"}, "MAX_ORDER_NOTIONAL"),
        ({"limit_price": "1.00"}, "PRICE_COLLAR"),
        ({"symbol": "KO", "limit_price": "60.00"}, "RESTRICTED_SYMBOL"),
    ],
)
def test_submit_refused_by_risk(orders, aapl, fields: dict, reject_code: str) -> None:
    if fields.get("limit_price") == "PASSIVE":
        fields = {**fields, "limit_price": aapl["passive"]}  # 4000 x ~190 > the 500,000 notional limit
    err = refused(orders, lambda: orders.SubmitOrder(submit(**fields), timeout=5), C.FAILED_PRECONDITION)
    assert ("td-reject-code", reject_code) in tuple(err.trailing_metadata() or ()), err.details()


def test_duplicate_client_order_id(orders, aapl) -> None:
    req = submit(client_order_id="dup-1", limit_price=aapl["passive"])
    first = orders.SubmitOrder(req, timeout=5)
    again = orders.SubmitOrder(req, timeout=5)
    assert again.duplicate and again.order_id == first.order_id and again.journal_seq == first.journal_seq
    changed = submit(client_order_id="dup-1", limit_price=aapl["passive"], quantity="11")
    refused(orders, lambda: orders.SubmitOrder(changed, timeout=5), C.ALREADY_EXISTS, "dup-1")


def test_throttle_resource_exhausted(orders, aapl) -> None:
    codes = []
    for i in range(40):
        try:
            orders.SubmitOrder(
                submit(
                    client_order_id=f"thr-{i}",
                    account="ACC-THROTTLE",
                    strategy="",
                    limit_price=aapl["passive"],
                    quantity="1",
                ),
                timeout=5,
            )
            codes.append("ok")
        except grpc.RpcError as err:
            codes.append(err.code())
    assert codes.count("ok") <= 20 and C.RESOURCE_EXHAUSTED in codes


def test_cancel_errors(orders, aapl) -> None:
    refused(
        orders,
        lambda: orders.CancelOrder(orders_pb2.CancelOrderRequest(account="ACC-EQ-1", order_id="O-nope")),
        C.NOT_FOUND,
        "O-nope",
    )
    refused(
        orders,
        lambda: orders.CancelOrder(orders_pb2.CancelOrderRequest(account="ACC-EQ-1")),
        C.INVALID_ARGUMENT,
        "order_id",
    )
    refused(
        orders,
        lambda: orders.CancelOrder(orders_pb2.CancelOrderRequest(account="", order_id="x")),
        C.INVALID_ARGUMENT,
        "account",
    )
    # A filled order cannot be canceled.
    filled = orders.SubmitOrder(
        submit(
            client_order_id="fill-then-cancel",
            quantity="1",
            limit_price=format_fixed(parse_fixed(aapl["ask"]) * 101 // 100 // 10_000_000 * 10_000_000),
        ),
        timeout=5,
    )
    wait_until(
        lambda: (
            orders.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", order_id=filled.order_id)).status
            == common_pb2.ORDER_STATUS_FILLED
        ),
        5,
        0.02,
        what="the crossing order to fill",
    )
    refused(
        orders,
        lambda: orders.CancelOrder(orders_pb2.CancelOrderRequest(account="ACC-EQ-1", order_id=filled.order_id)),
        C.FAILED_PRECONDITION,
        "FILLED",
    )
    # Another account's order is not found, not canceled.
    refused(
        orders,
        lambda: orders.CancelOrder(orders_pb2.CancelOrderRequest(account="ACC-EQ-2", order_id=filled.order_id)),
        C.NOT_FOUND,
    )


def test_replace_errors(orders, aapl) -> None:
    ack = orders.SubmitOrder(submit(client_order_id="to-replace", limit_price=aapl["passive"]), timeout=5)
    wait_until(  # acknowledged by the venue: a PENDING_NEW order cannot be replaced yet
        lambda: (
            orders.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", order_id=ack.order_id)).status
            == common_pb2.ORDER_STATUS_NEW
        ),
        5,
        0.01,
        what="the venue's acknowledgement",
    )
    base = dict(account="ACC-EQ-1", order_id=ack.order_id)
    refused(
        orders,
        lambda: orders.ReplaceOrder(orders_pb2.ReplaceOrderRequest(**base, quantity="20")),
        C.INVALID_ARGUMENT,
        "new_client_order_id",
    )
    refused(
        orders,
        lambda: orders.ReplaceOrder(orders_pb2.ReplaceOrderRequest(**base, new_client_order_id="r1")),
        C.INVALID_ARGUMENT,
        "quantity",
    )
    refused(
        orders,
        lambda: orders.ReplaceOrder(
            orders_pb2.ReplaceOrderRequest(**base, new_client_order_id="r1", limit_price="1.001")
        ),
        C.INVALID_ARGUMENT,
        "limit_price",
    )
    refused(
        orders,
        lambda: orders.ReplaceOrder(
            orders_pb2.ReplaceOrderRequest(**base, new_client_order_id="to-replace", quantity="20")
        ),
        C.ALREADY_EXISTS,
        "to-replace",
    )
    refused(
        orders,
        lambda: orders.ReplaceOrder(
            orders_pb2.ReplaceOrderRequest(**base, new_client_order_id="r1", quantity="999999")
        ),
        C.FAILED_PRECONDITION,
    )


def test_queries_validate(orders, desk) -> None:
    refused(
        orders,
        lambda: orders.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", client_order_id="none")),
        C.NOT_FOUND,
        "none",
    )
    refused(orders, lambda: orders.ListOrders(orders_pb2.ListOrdersRequest(limit=10_001)), C.INVALID_ARGUMENT, "limit")
    refused(orders, lambda: orders.ListOrders(orders_pb2.ListOrdersRequest(symbol="ZZZ")), C.INVALID_ARGUMENT, "symbol")
    refused(
        orders,
        lambda: orders.GetPositions(orders_pb2.GetPositionsRequest(account="NOBODY")),
        C.INVALID_ARGUMENT,
        "account",
    )
    market = market_data_pb2_grpc.MarketDataServiceStub(desk.channel("feeds"))
    refused(orders, lambda: market.GetQuote(market_data_pb2.GetQuoteRequest(symbol="ZZZZ")), C.NOT_FOUND, "ZZZZ")
    refused(orders, lambda: market.GetQuote(market_data_pb2.GetQuoteRequest(symbol="")), C.INVALID_ARGUMENT)
    risk = risk_pb2_grpc.RiskServiceStub(desk.channel("risk"))
    scope = common_pb2.Scope(account="ACC-EQ-1")
    refused(
        orders,
        lambda: risk.SetTradingState(
            risk_pb2.SetTradingStateRequest(scope=scope, state=common_pb2.TRADING_STATE_HALTED, reason="test")
        ),
        C.INVALID_ARGUMENT,
        "actor",
    )
    refused(
        orders,
        lambda: risk.SetTradingState(
            risk_pb2.SetTradingStateRequest(scope=scope, state=common_pb2.TRADING_STATE_HALTED, actor="ops")
        ),
        C.INVALID_ARGUMENT,
        "reason",
    )
    refused(
        orders,
        lambda: risk.SetTradingState(
            risk_pb2.SetTradingStateRequest(
                scope=common_pb2.Scope(account="NOBODY"), state=common_pb2.TRADING_STATE_HALTED, actor="a", reason="r"
            )
        ),
        C.INVALID_ARGUMENT,
        "scope.account",
    )
    refused(
        orders,
        lambda: risk.SetTradingState(
            risk_pb2.SetTradingStateRequest(
                scope=scope, state=common_pb2.TRADING_STATE_UNSPECIFIED, actor="a", reason="r"
            )
        ),
        C.INVALID_ARGUMENT,
        "state",
    )
    compliance = compliance_pb2_grpc.ComplianceServiceStub(desk.channel("compliance"))
    refused(
        orders,
        lambda: compliance.QueryAudit(compliance_pb2.QueryAuditRequest(limit=10_001)),
        C.INVALID_ARGUMENT,
        "limit",
    )
    refused(
        orders,
        lambda: compliance.QueryAudit(compliance_pb2.QueryAuditRequest(since_ns=10, until_ns=5)),
        C.INVALID_ARGUMENT,
        "until_ns",
    )
    refused(
        orders,
        lambda: compliance.QueryAudit(compliance_pb2.QueryAuditRequest(after_seq=2**64 - 1)),
        C.INVALID_ARGUMENT,
        "after_seq",
    )
    refused(
        orders,
        lambda: compliance.QueryAudit(compliance_pb2.QueryAuditRequest(from_index=2**64 - 1)),
        C.INVALID_ARGUMENT,
        "from_index",
    )


def test_trading_state_halts_and_resumes(orders, desk, aapl) -> None:
    risk = risk_pb2_grpc.RiskServiceStub(desk.channel("risk"))
    scope = common_pb2.Scope(account="ACC-EQ-2")
    risk.SetTradingState(
        risk_pb2.SetTradingStateRequest(
            scope=scope, state=common_pb2.TRADING_STATE_HALTED, actor="test", reason="halt drill"
        ),
        timeout=5,
    )
    attempts = iter(range(1, 10_000))

    def halted() -> bool:  # the halt reaches the gate over the risk stream, within milliseconds
        req = submit(
            client_order_id=f"halt-probe-{next(attempts)}", account="ACC-EQ-2", strategy="", limit_price=aapl["passive"]
        )
        try:
            orders.SubmitOrder(req, timeout=5)
        except grpc.RpcError as err:
            return err.code() == C.FAILED_PRECONDITION and "halt drill" in err.details()
        return False

    wait_until(halted, 5, 0.01, what="the halt to reach the gate")
    req = submit(client_order_id="after-halt", account="ACC-EQ-2", strategy="", limit_price=aapl["passive"])
    risk.SetTradingState(
        risk_pb2.SetTradingStateRequest(
            scope=scope, state=common_pb2.TRADING_STATE_ACTIVE, actor="test", reason="drill over"
        ),
        timeout=5,
    )

    def accepted() -> bool:
        try:
            orders.SubmitOrder(req, timeout=5)
            return True
        except grpc.RpcError:
            return False

    wait_until(accepted, 5, 0.02, what="the resume to reach the gate")


def test_session_reports_errors_in_band(orders, aapl) -> None:
    good = submit(client_order_id="sess-ok", limit_price=aapl["passive"])
    bad = submit(client_order_id="sess-bad", quantity="-1")
    requests = [
        orders_pb2.SessionRequest(submit=good, request_id=1),
        orders_pb2.SessionRequest(submit=bad, request_id=2),
        orders_pb2.SessionRequest(request_id=3),
    ]
    answers = {}
    for batch in orders.OrderSession(iter([orders_pb2.SessionRequests(requests=requests)]), timeout=10):
        for resp in batch.responses:
            if resp.request_id:
                answers[resp.request_id] = resp
    assert answers[1].WhichOneof("response") == "ack"
    assert answers[2].error.code == C.INVALID_ARGUMENT.value[0] and "quantity" in answers[2].error.message
    assert answers[3].error.code == C.INVALID_ARGUMENT.value[0] and "request" in answers[3].error.message


def test_sigterm_is_clean(tmp_path: Path) -> None:
    proc = DeskProcess(write_desk(tmp_path))
    proc.wait_up()
    assert proc.stop() == 0
    log = proc.log.read_text()
    assert "draining" in log and "desk stopped" in log


# -- the contract's decimals, at every door ---------------------------------------------------------------------

NOT_THE_CONTRACTS_FORM = [" 100", "100 ", "+100", " 185.63"]
WHY = {" 100": "whitespace", "100 ": "whitespace", "+100": "'+' sign", " 185.63": "whitespace"}


@pytest.mark.parametrize("text", NOT_THE_CONTRACTS_FORM)
@pytest.mark.parametrize("field", ["quantity", "limit_price"])
def test_submit_decimals_are_as_strict_as_the_contract(orders, field: str, text: str) -> None:
    err = refused(orders, lambda: orders.SubmitOrder(submit(**{field: text}), timeout=5), C.INVALID_ARGUMENT)
    assert err.details().startswith(f"{field}: {text!r} ") and WHY[text] in err.details(), err.details()


@pytest.mark.parametrize("text", NOT_THE_CONTRACTS_FORM)
@pytest.mark.parametrize("field", ["quantity", "limit_price"])
def test_replace_decimals_are_as_strict_as_the_contract(orders, aapl, field: str, text: str) -> None:
    ack = orders.SubmitOrder(submit(limit_price=aapl["passive"]), timeout=5)
    req = orders_pb2.ReplaceOrderRequest(
        account="ACC-EQ-1", order_id=ack.order_id, new_client_order_id=f"r-{time.monotonic_ns()}", **{field: text}
    )
    refused(orders, lambda: orders.ReplaceOrder(req, timeout=5), C.INVALID_ARGUMENT, f"{field}: {text!r}", WHY[text])


@pytest.mark.parametrize("text", NOT_THE_CONTRACTS_FORM)
def test_risk_decimals_are_as_strict_as_the_contract(orders, desk, text: str) -> None:
    risk = risk_pb2_grpc.RiskServiceStub(desk.channel("risk"))
    limits = risk.GetLimits(risk_pb2.GetLimitsRequest(), timeout=5)
    limits.desk.max_order_quantity = text
    change = risk_pb2.SetLimitsRequest(limits=limits, actor="test", reason="strict decimals")
    refused(
        orders,
        lambda: risk.SetLimits(change, timeout=5),
        C.INVALID_ARGUMENT,
        f"limits.desk.max_order_quantity: {text!r}",
        WHY[text],
    )
    assert risk.GetLimits(risk_pb2.GetLimitsRequest(), timeout=5).version == limits.version
    sizing = risk_pb2.SuggestPositionSizeRequest(symbol="AAPL", risk_budget=text)
    refused(orders, lambda: risk.SuggestPositionSize(sizing, timeout=5), C.INVALID_ARGUMENT, "risk_budget", WHY[text])


def cli(desk: DeskProcess, *args: str, service: str = "routing") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradingdesk.cli.main", *args, f"--{service}", desk.address(service)],
        env=access.cli_env(desk.desk),
        capture_output=True,
        text=True,
        timeout=30,
    )


def table(text: str) -> list[dict[str, str]]:
    """The rows of a CLI table, cut where its line of dashes says the columns are."""
    header, dashes, *rows = text.splitlines()
    spans = [m.span() for m in re.finditer(r"-+", dashes)]

    def cells(line: str) -> list[str]:
        return [line[start:end].strip() for start, end in spans]

    return [dict(zip(cells(header), cells(row), strict=True)) for row in rows if row.strip() and row != "(none)"]


def places(decimal: str) -> int:
    return len(decimal.partition(".")[2])


@pytest.mark.parametrize("text", NOT_THE_CONTRACTS_FORM)
def test_cli_decimals_are_as_strict_as_the_contract(orders, desk, aapl, text: str) -> None:
    submit_args = [
        "order",
        "submit",
        "--account",
        "ACC-EQ-1",
        "--strategy",
        "manual",
        "--symbol",
        "AAPL",
        "--side",
        "buy",
    ]
    ack = orders.SubmitOrder(submit(limit_price=aapl["passive"]), timeout=5)
    replace_args = ["order", "replace", "--account", "ACC-EQ-1", "--order-id", ack.order_id]
    before = state(orders)
    for args, field in (
        ([*submit_args, "--qty", text, "--price", aapl["passive"]], "quantity"),
        ([*submit_args, "--qty", "10", "--price", text], "limit_price"),
        ([*replace_args, "--qty", text], "quantity"),
        ([*replace_args, "--price", text], "limit_price"),
    ):
        out = cli(desk, *args)
        assert out.returncode == 1, out
        assert out.stderr.startswith(f"error: INVALID_ARGUMENT: {field}: {text!r} "), out.stderr
        assert WHY[text] in out.stderr, out.stderr
    assert state(orders) == before, "a refused request changed the desk"


def test_every_decimal_form_that_was_valid_stays_valid(orders, aapl) -> None:
    """Leading and trailing zeros were accepted before the parser got strict, and still are."""
    passive = aapl["passive"]
    forms = [("010", passive), ("10", passive + ("0" if "." in passive else ".00")), ("10.0", "0" + passive)]
    for quantity, price in forms:
        ack = orders.SubmitOrder(submit(quantity=quantity, limit_price=price), timeout=5)
        placed = orders.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", order_id=ack.order_id), timeout=5)
        assert (placed.quantity, placed.limit_price) == ("10", passive)


# -- ids, accounts and the replace acknowledgement ----------------------------------------------------------------


@pytest.mark.parametrize("client_order_id", ["~", "!", "x" * 64, "!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"])
def test_ids_of_visible_ascii_are_accepted(orders, aapl, client_order_id: str) -> None:
    ack = orders.SubmitOrder(submit(client_order_id=client_order_id, limit_price=aapl["passive"]), timeout=5)
    assert ack.client_order_id == client_order_id and not ack.duplicate
    got = orders.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", client_order_id=client_order_id), timeout=5)
    assert got.order_id == ack.order_id


def test_get_and_cancel_require_the_account(orders) -> None:
    for call in (orders.GetOrder, orders.CancelOrder):
        request = (orders_pb2.GetOrderRequest if call is orders.GetOrder else orders_pb2.CancelOrderRequest)(
            order_id="O-1"
        )
        refused(orders, lambda c=call, r=request: c(r, timeout=5), C.INVALID_ARGUMENT, "account: is required")


def wait_status(orders, order_id: str, status: int, account: str = "ACC-EQ-1") -> orders_pb2.Order:
    """The order once it has ``status`` (the simulated venues answer after their latency)."""
    deadline = time.monotonic() + 5
    while True:
        order = orders.GetOrder(orders_pb2.GetOrderRequest(account=account, order_id=order_id), timeout=5)
        if order.status == status:
            return order
        assert time.monotonic() < deadline, common_pb2.OrderStatus.Name(order.status)
        time.sleep(0.01)


def test_replace_ack_names_the_new_order(orders, aapl) -> None:
    ack = orders.SubmitOrder(submit(client_order_id="to-follow", limit_price=aapl["passive"]), timeout=5)
    assert ack.new_order_id == "", "a submit has no replacement"
    wait_status(orders, ack.order_id, common_pb2.ORDER_STATUS_NEW)
    req = orders_pb2.ReplaceOrderRequest(
        account="ACC-EQ-1", order_id=ack.order_id, new_client_order_id="followed", quantity="12"
    )
    replaced = orders.ReplaceOrder(req, timeout=5)
    assert replaced.order_id == ack.order_id and replaced.status == common_pb2.ORDER_STATUS_PENDING_REPLACE
    assert replaced.new_order_id and replaced.new_order_id != ack.order_id
    original = wait_status(orders, ack.order_id, common_pb2.ORDER_STATUS_REPLACED)
    assert original.replaced_by_order_id == replaced.new_order_id
    new = orders.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", order_id=replaced.new_order_id), timeout=5)
    assert (new.client_order_id, new.quantity, new.replaces_order_id) == ("followed", "12", ack.order_id)
    again = orders.ReplaceOrder(req, timeout=5)
    assert again.duplicate and again.new_order_id == replaced.new_order_id
    cancel = orders_pb2.CancelOrderRequest(account="ACC-EQ-1", order_id=replaced.new_order_id)
    assert orders.CancelOrder(cancel, timeout=5).new_order_id == ""


def test_session_replace_ack_names_the_new_order(orders, aapl) -> None:
    ack = orders.SubmitOrder(submit(client_order_id="sess-follow", limit_price=aapl["passive"]), timeout=5)
    wait_status(orders, ack.order_id, common_pb2.ORDER_STATUS_NEW)
    change = orders_pb2.ReplaceOrderRequest(
        account="ACC-EQ-1", client_order_id="sess-follow", new_client_order_id="sess-followed", quantity="11"
    )
    requests = [orders_pb2.SessionRequest(replace=change, request_id=1)]
    answers = [
        resp
        for batch in orders.OrderSession(iter([orders_pb2.SessionRequests(requests=requests)]), timeout=10)
        for resp in batch.responses
        if resp.request_id
    ]
    assert [a.WhichOneof("response") for a in answers] == ["ack"], answers
    assert answers[0].ack.order_id == ack.order_id and answers[0].ack.new_order_id not in ("", ack.order_id)
    replaced = wait_status(orders, ack.order_id, common_pb2.ORDER_STATUS_REPLACED)
    assert replaced.replaced_by_order_id == answers[0].ack.new_order_id


def test_cli_tables_show_averages_and_pnl_rounded(orders, desk, aapl) -> None:
    """Three separate 1-share buys at the market: the position's average is a third of their sum."""
    crossing = format_fixed(parse_fixed(aapl["ask"]) * 101 // 100 // 10_000_000 * 10_000_000)
    for i in range(3):
        ack = orders.SubmitOrder(
            submit(client_order_id=f"avg-{i}", account="ACC-EQ-2", strategy="", quantity="1", limit_price=crossing),
            timeout=5,
        )
        wait_status(orders, ack.order_id, common_pb2.ORDER_STATUS_FILLED, account="ACC-EQ-2")
    out = cli(desk, "positions", "--account", "ACC-EQ-2")
    assert out.returncode == 0, out.stderr
    [row] = [r for r in table(out.stdout) if r["symbol"] == "AAPL"]
    assert row["qty"] == "3" and places(row["avg_cost"]) <= 6, row
    assert places(row["realized_pnl"]) <= 2 and places(row["unrealized_pnl"]) <= 2, row
    listed = cli(desk, "order", "list", "--account", "ACC-EQ-2")
    assert listed.returncode == 0 and all(places(r["avg_price"]) <= 6 for r in table(listed.stdout)), listed
    snap = cli(desk, "risk", "snapshot", service="risk")
    assert snap.returncode == 0, snap.stderr
    measures = {r["measure"]: r["value"] for r in table(snap.stdout.split("\nsymbol ")[0])}  # the first table
    for name in ("realized_pnl", "unrealized_pnl", "daily_pnl", "drawdown"):
        assert places(measures[name]) <= 2, (name, measures[name])


def test_cli_replace_shows_the_new_order(orders, desk, aapl) -> None:
    ack = orders.SubmitOrder(submit(limit_price=aapl["passive"]), timeout=5)
    wait_status(orders, ack.order_id, common_pb2.ORDER_STATUS_NEW)
    out = cli(
        desk,
        "order",
        "replace",
        "--account",
        "ACC-EQ-1",
        "--order-id",
        ack.order_id,
        "--qty",
        "11",
        "--new-client-order-id",
        "cli-replaced",
    )
    assert out.returncode == 0, out.stderr
    [row] = table(out.stdout)
    assert (row["order_id"], row["status"], row["new_client_order_id"]) == (
        ack.order_id,
        "PENDING_REPLACE",
        "cli-replaced",
    )
    replaced = wait_status(orders, ack.order_id, common_pb2.ORDER_STATUS_REPLACED)
    assert row["new_order_id"] == replaced.replaced_by_order_id
