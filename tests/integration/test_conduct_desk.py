"""Market conduct on a whole embedded desk, whatever the hour: it trades on the replay clock (a session from its
open), self-match prevention keeps one account's orders from trading with each other on one venue and across
two, two accounts of one beneficial owner trading with each other raise a wash-trade alert that
``ListSurveillanceAlerts`` returns, ``GetExecutionQuality`` measures the orders against the market, and the CAT
export of the trade date passes the shipped schema, over gRPC and from the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import grpc
import pytest

from tests.desk_runner import REPO, RunningDesk, wait_for, write_desk
from tradingdesk.cat.schema import problems
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.markets.calendar import Phase
from tradingdesk.markets.calendar_source import load_calendar
from tradingdesk.v1 import (
    common_pb2,
    compliance_pb2,
    compliance_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
)

pytestmark = pytest.mark.slow
TICK = parse_fixed("0.01")


def conduct(doc: dict) -> None:
    # The test freezes the market (every line disabled) once it has a quote it likes, so that what our orders
    # meet is known; the gate must then keep that last trade as a reference.
    doc["spec"]["risk"]["referenceMaxAgeMs"] = 3_600_000
    doc["spec"]["conduct"] = {
        "selfMatchPrevention": {"scope": "account", "mode": "cancelNewest"},
        "surveillance": {"beneficialOwners": [{"name": "fund-eq", "accounts": ["ACC-EQ-1", "ACC-EQ-2"]}]},
    }


def order(n: str, account: str, side: int, price: int, venue: str) -> orders_pb2.SubmitOrderRequest:
    return orders_pb2.SubmitOrderRequest(
        client_order_id=f"conduct-{n}",
        account=account,
        strategy="manual" if account == "ACC-EQ-1" else "",
        symbol="AAPL",
        side=side,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        quantity="100",
        limit_price=format_fixed(price),
        time_in_force=common_pb2.TIME_IN_FORCE_DAY,
        venue=venue,
    )


async def test_conduct_on_a_running_desk(tmp_path: Path) -> None:
    spec = write_desk(tmp_path, conduct)
    desk = await RunningDesk(spec).start()
    try:
        async with (
            desk.channel("feeds") as feeds_ch,
            desk.channel("routing") as routing_ch,
            desk.channel("compliance") as compliance_ch,
        ):
            feeds = market_data_pb2_grpc.MarketDataServiceStub(feeds_ch)
            orders = orders_pb2_grpc.OrderServiceStub(routing_ch)
            compliance = compliance_pb2_grpc.ComplianceServiceStub(compliance_ch)

            async def lines(enabled: bool) -> None:
                for feed in ("vendor-a", "vendor-b"):
                    for line in ("A", "B"):
                        await feeds.SetLineEnabled(
                            market_data_pb2.SetLineEnabledRequest(feed=feed, line=line, enabled=enabled, reason="test")
                        )

            async def frozen_wide_market() -> market_data_pb2.Quote | None:
                """The market frozen (every line disabled: the venues keep their book) with room inside the
                spread, so our sell becomes the best offer and what our orders meet is known."""
                try:
                    q = await feeds.GetQuote(market_data_pb2.GetQuoteRequest(symbol="AAPL"), timeout=1)
                except grpc.aio.AioRpcError:
                    return None
                if not q.ask_price or parse_fixed(q.ask_price) - parse_fixed(q.bid_price) < 2 * TICK:
                    return None
                await lines(False)
                q = (await feeds.GetSnapshot(market_data_pb2.GetSnapshotRequest(symbols=["AAPL"]))).quotes[0]
                if parse_fixed(q.ask_price) - parse_fixed(q.bid_price) >= 2 * TICK:
                    return q
                await lines(True)  # it moved on the way: again
                return None

            async def status(account: str, order_id: str) -> orders_pb2.Order:
                return await orders.GetOrder(orders_pb2.GetOrderRequest(account=account, order_id=order_id))

            async def placed(req: orders_pb2.SubmitOrderRequest) -> str:
                """Submitted; None while the risk gate has no fresh reference yet (the desk is starting)."""
                try:
                    return (await orders.SubmitOrder(req, timeout=5)).order_id
                except grpc.aio.AioRpcError as exc:
                    if exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "reference" in (exc.details() or ""):
                        return ""
                    raise

            # The desk's market is open: the replay clock plays a session from its open.
            q = await wait_for(frozen_wide_market, timeout=60, what="a quote wider than a tick, frozen")
            assert load_calendar("XNYS").phase(q.vendor_time_ns) is Phase.REGULAR
            price = parse_fixed(q.ask_price) - TICK
            sell = await wait_for(
                lambda: placed(order("sell", "ACC-EQ-1", common_pb2.SIDE_SELL_SHORT, price, "xnys")), timeout=10
            )
            await wait_for(lambda: _is(status("ACC-EQ-1", sell), common_pb2.ORDER_STATUS_NEW), timeout=5)

            # One account's buy at that price never trades with its own sell: on its venue, or on another.
            for venue in ("xnys", "xnas"):
                buy = await placed(order(f"own-{venue}", "ACC-EQ-1", common_pb2.SIDE_BUY, price, venue))
                done = await wait_for(lambda b=buy: _is(status("ACC-EQ-1", b), common_pb2.ORDER_STATUS_CANCELED), 5)
                assert done.text.startswith("self-match prevention") and done.cum_quantity in ("", "0")
            assert (await status("ACC-EQ-1", sell)).status == common_pb2.ORDER_STATUS_NEW

            # Another account of the same owner may trade with it (scope: account): a wash trade.
            wash = await placed(order("wash", "ACC-EQ-2", common_pb2.SIDE_BUY, price, "xnys"))
            filled = await wait_for(lambda: _is(status("ACC-EQ-2", wash), common_pb2.ORDER_STATUS_FILLED), 5)
            assert parse_fixed(filled.avg_price) == price

            async def wash_alert() -> compliance_pb2.SurveillanceAlert | None:
                """The alert, once it is also a record of the audit log."""
                reply = await compliance.ListSurveillanceAlerts(
                    compliance_pb2.ListSurveillanceAlertsRequest(detector="wash_trade", account="ACC-EQ-2")
                )
                return reply.alerts[0] if reply.alerts and reply.alerts[0].HasField("log_index") else None

            alert = await wait_for(wash_alert, timeout=15, what="the wash-trade alert in the audit log")
            audited = await compliance.QueryAudit(compliance_pb2.QueryAuditRequest(from_index=alert.log_index, limit=1))
            (record,) = audited.events
            assert (record.index, record.source, record.kind) == (
                alert.log_index,
                "compliance",
                "surveillance_alert",
            )
            assert json.loads(record.payload_json)["order_ids"] == list(alert.order_ids)
            assert alert.owner == "fund-eq" and set(alert.accounts) == {"ACC-EQ-1", "ACC-EQ-2"}
            assert set(alert.order_ids) == {sell, wash} and alert.rule.startswith("SEA 9(a)(1)")
            assert alert.figures["matched_qty"] == "100"

            day = datetime.fromtimestamp(alert.ts_ns / 1e9, UTC).astimezone(ZoneInfo("America/New_York")).date()
            report = await compliance.GetExecutionQuality(compliance_pb2.GetExecutionQualityRequest(order_id=wash))
            (measured,) = report.orders
            assert report.trade_date == day.isoformat() and measured.order_id == wash
            assert parse_fixed(measured.arrival_mid) > 0 and measured.filled_quantity == "100"
            assert [v.venue for v in report.venues] == ["xnys"] and report.venues[0].shares_executed == "100"
            everything = await compliance.GetExecutionQuality(
                compliance_pb2.GetExecutionQualityRequest(trade_date=day.isoformat())
            )
            assert {sell, wash} <= {o.order_id for o in everything.orders}

            records = [
                json.loads(r)
                async for batch in compliance.ExportCatEvents(
                    compliance_pb2.ExportCatEventsRequest(trade_date=day.isoformat())
                )
                for r in batch.records_json
            ]
            assert all(not problems(r) for r in records)
            mine = [(r["type"], r["orderID"]) for r in records if r["orderID"] in (sell, wash)]
            assert ("MENO", sell) in mine and ("MEOR", wash) in mine and ("MEOT", wash) in mine

            for request, code, word in (
                (compliance_pb2.GetExecutionQualityRequest(trade_date="2026-13-01"), "INVALID_ARGUMENT", "trade_date"),
                (compliance_pb2.GetExecutionQualityRequest(order_id="O-none"), "NOT_FOUND", "O-none"),
                (compliance_pb2.ListSurveillanceAlertsRequest(detector="insider"), "INVALID_ARGUMENT", "detector"),
                (compliance_pb2.ListSurveillanceAlertsRequest(account="nobody"), "INVALID_ARGUMENT", "account"),
                (compliance_pb2.ListSurveillanceAlertsRequest(after_id=2**64 - 1), "INVALID_ARGUMENT", "after_id"),
            ):
                call = (
                    compliance.GetExecutionQuality
                    if isinstance(request, compliance_pb2.GetExecutionQualityRequest)
                    else compliance.ListSurveillanceAlerts
                )
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    await call(request)
                assert exc.value.code().name == code and word in (exc.value.details() or "")

        # The same from the terminal, as docs/compliance.md shows it.
        outputs = []
        for command in compliance_doc_commands():
            args = command.replace("examples/desk.yaml", str(spec)).replace("2026-11-27", day.isoformat()).split()
            assert args[0] == "tradingdesk"
            run = subprocess.run(
                [sys.executable, "-m", "tradingdesk.cli.main", *args[1:]],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, f"{command}\n{run.stdout}\n{run.stderr}"
            outputs.append(run)
        alerts, tca, cat = outputs
        assert "wash_trade" in alerts.stdout and "fund-eq" in alerts.stdout
        assert wash in tca.stdout and "venues (SEC Rule 605)" in tca.stdout
        lines = (tmp_path / f"cat-{day.isoformat()}.jsonl").read_text().splitlines()
        assert len(lines) == len(records) and f"{len(records)} CAT records" in cat.stderr
    except BaseException:
        print(desk.logs())
        raise
    finally:
        await desk.stop()


def compliance_doc_commands() -> list[str]:
    text = (REPO / "docs" / "compliance.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text.split("## Commands", 1)[1], re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


async def _is(call, wanted: int):
    o = await call
    return o if o.status == wanted else None
