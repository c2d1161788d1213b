"""Fault to page with real processes: the embedded desk, Prometheus, Alertmanager and a PagerDuty Events API v2
receiver that throttles now and then. Each fault must produce a ``trigger`` with the right severity and a
stable ``dedup_key``, and its repair the ``resolve`` of the same key. The time from fault to page is printed
(the ``alert_to_page_s`` benchmark measures it; a test never bounds wall time)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.desk_runner import wait_for
from tests.monitoring.orders import buy_filled
from tests.monitoring.paging import LOSS_ACCOUNT, PagingRig, paging_rig
from tradingdesk.v1 import monitoring_pb2, monitoring_pb2_grpc, risk_pb2, risk_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def check_trigger(rig: PagingRig, page, *, alertname: str) -> str:
    body = page.body
    payload = body["payload"]
    assert body["routing_key"] == rig.receiver.routing_key
    assert payload["severity"] == "critical" and payload["class"] == alertname
    assert payload["group"] == rig.desk.desk.name and payload["custom_details"]["runbook_url"].endswith(".md")
    assert body["dedup_key"], "Alertmanager sends a dedup_key so the resolve finds the incident"
    return body["dedup_key"]


async def resolved(rig: PagingRig, dedup_key: str, after: float):
    def found():
        return next(
            (r for r in rig.receiver.accepted("resolve") if r.at >= after and r.body["dedup_key"] == dedup_key), None
        )

    return await wait_for(found, timeout=90, interval=0.05)


async def monitoring_alerts(rig: PagingRig, **request) -> monitoring_pb2.ListAlertsResponse:
    async with rig.desk.channel("monitoring") as ch:
        stub = monitoring_pb2_grpc.MonitoringServiceStub(ch)
        return await stub.ListAlerts(monitoring_pb2.ListAlertsRequest(**request), timeout=10)


async def lose_money(rig: PagingRig) -> float:
    """Buy through the ask on the account whose daily loss limit is a dollar: fees and the spread lose more."""
    _, filled = await buy_filled(rig.desk, account=LOSS_ACCOUNT, symbol="AAPL", quantity="400")
    return filled


async def raise_loss_limit(rig: PagingRig) -> None:
    async with rig.desk.channel("risk") as ch:
        risk = risk_pb2_grpc.RiskServiceStub(ch)
        limits = await risk.GetLimits(risk_pb2.GetLimitsRequest(), timeout=5)
        for scope in limits.scopes:
            if scope.scope.account == LOSS_ACCOUNT:
                scope.limits.max_daily_loss = "1000000"
        await risk.SetLimits(
            risk_pb2.SetLimitsRequest(limits=limits, actor="jane.doe", reason="paging drill over"), timeout=5
        )


async def test_faults_page_and_repairs_resolve(tmp_path: Path) -> None:
    figures: dict[str, float] = {}
    async with paging_rig(tmp_path) as rig:
        # 1. Both lines of one feed cut: FeedDown pages; FeedLineDown is inhibited; restored: resolve.
        cut = time.time()
        await rig.set_lines("vendor-a", enabled=False)
        page = await rig.page("trigger", "FeedDown", after=cut)
        figures["FeedDown"] = page.at - cut
        feed_key = check_trigger(rig, page, alertname="FeedDown")
        assert "vendor-a" in page.body["payload"]["summary"]
        listed = await monitoring_alerts(rig)
        assert listed.source == "alertmanager" and "FeedDown" in {a.name for a in listed.alerts}

        async def line_alert_suppressed() -> bool:  # FeedLineDown fires after its 5 s, and stays quiet
            everything = await monitoring_alerts(rig, include_suppressed=True)
            return any(a.name == "FeedLineDown" and a.state == "suppressed" for a in everything.alerts)

        await wait_for(line_alert_suppressed, timeout=30, interval=0.5)
        assert not [p for p in rig.receiver.accepted() if "FeedLineDown" in str(p.body.get("payload", {}))]
        restored = time.time()
        await rig.set_lines("vendor-a", enabled=True)
        await resolved(rig, feed_key, restored)
        assert rig.receiver.incidents[feed_key].status == "resolved"

        # 2. A daily loss limit breached: DailyLossLimitBreached pages; the limit raised: resolve.
        filled = await lose_money(rig)
        page = await rig.page("trigger", "DailyLossLimitBreached", after=filled - 1)
        figures["DailyLossLimitBreached"] = page.at - filled
        loss_key = check_trigger(rig, page, alertname="DailyLossLimitBreached")
        assert LOSS_ACCOUNT in page.body["payload"]["summary"]
        raised = time.time()
        await raise_loss_limit(rig)
        await resolved(rig, loss_key, raised)

        # 3. The risk service killed: ServiceDown pages; a new risk process: resolve.
        killed = time.time()
        await rig.kill_service("risk")
        page = await rig.page("trigger", "ServiceDown", after=killed)
        figures["ServiceDown"] = page.at - killed
        down_key = check_trigger(rig, page, alertname="ServiceDown")
        assert "risk" in page.body["payload"]["summary"]
        restarted = time.time()
        await rig.restart_service("risk")
        await resolved(rig, down_key, restarted)

        # The receiver throttled some deliveries; Alertmanager retried each until it was accepted.
        throttled = rig.receiver.answered(429)
        assert throttled, "the receiver answers 429 to every third request"
        for item in throttled:
            if item.body.get("dedup_key"):
                again = [r for r in rig.receiver.accepted() if r.body.get("dedup_key") == item.body["dedup_key"]]
                assert any(r.at > item.at for r in again), "a throttled event was never delivered"
        assert not rig.receiver.answered(400), [r.errors for r in rig.receiver.answered(400)]
        assert len({feed_key, loss_key, down_key}) == 3
    print("alert_to_page_s " + " ".join(f"{k}={v:.2f}" for k, v in figures.items()))
