"""MonitoringService over real gRPC, with a real Alertmanager behind it: alerts, silences, the status stream,
and a clear refusal for every bad request (the right code, the field named, nothing changed)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from tests.desk_runner import wait_for
from tests.monitoring.orders import buy_filled
from tests.monitoring.paging import PagingRig
from tests.monitoring.tools import get_json
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc, monitoring_pb2, monitoring_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory):
    rig = PagingRig(Path(tmp_path_factory.mktemp("monitoring-service")))
    await rig.start()
    try:
        yield rig
    finally:
        await rig.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def stub(rig: PagingRig):
    async with rig.desk.channel("monitoring") as ch:
        yield monitoring_pb2_grpc.MonitoringServiceStub(ch)


def silences(rig: PagingRig) -> list[dict]:
    return get_json(f"{rig.stack.alertmanager_url}/api/v2/silences")


@pytest.mark.parametrize(
    ("request_fields", "code", "message"),
    [
        ({"matchers": {"feed": "vendor-a"}}, grpc.StatusCode.INVALID_ARGUMENT, "matchers: must include alertname"),
        ({"duration_s": 10}, grpc.StatusCode.INVALID_ARGUMENT, "duration_s: must be between 60 and 604800"),
        ({"duration_s": 8 * 86_400}, grpc.StatusCode.INVALID_ARGUMENT, "duration_s: must be between 60"),
        ({"author": " "}, grpc.StatusCode.INVALID_ARGUMENT, "author: required"),
        ({"comment": ""}, grpc.StatusCode.INVALID_ARGUMENT, "comment: required"),
        ({"matchers": {"alertname": "FeedDown", "desk": "other"}}, grpc.StatusCode.INVALID_ARGUMENT, "desk is set"),
        ({"matchers": {"alertname": "FeedDown", "bad-label": "x"}}, grpc.StatusCode.INVALID_ARGUMENT, "not a label"),
        ({"matchers": {"alertname": "FeedDown", "feed": ""}}, grpc.StatusCode.INVALID_ARGUMENT, "feed: needs a value"),
    ],
)
async def test_bad_silences_are_refused_and_change_nothing(rig, stub, request_fields, code, message) -> None:
    before = silences(rig)
    good = {"matchers": {"alertname": "FeedDown"}, "duration_s": 3600, "author": "jane.doe", "comment": "INC-7"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SilenceAlert(monitoring_pb2.SilenceAlertRequest(**{**good, **request_fields}), timeout=10)
    assert err.value.code() == code and message in err.value.details(), err.value.details()
    assert silences(rig) == before


async def test_list_alerts_refuses_an_unknown_severity(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListAlerts(monitoring_pb2.ListAlertsRequest(severity="urgent"), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == "severity: must be one of critical, warning, info or empty"


async def test_status_stream_pushes_a_change_and_a_silence_lands_in_alertmanager(rig, stub) -> None:
    stream = stub.StreamDeskStatus(monitoring_pb2.StreamDeskStatusRequest())
    first = await stream.read()
    assert first.desk == rig.desk.desk.name and [s.service for s in first.services] == [
        "feeds",
        "routing",
        "risk",
        "compliance",
        "monitoring",
    ]
    async with rig.desk.channel("feeds") as ch:
        feeds = market_data_pb2_grpc.MarketDataServiceStub(ch)
        for line in ("A", "B"):
            request = market_data_pb2.SetLineEnabledRequest(feed="vendor-b", line=line, reason="stream test")
            await feeds.SetLineEnabled(request, timeout=5)

    async def pushed_down() -> monitoring_pb2.DeskStatus | None:
        status = await stream.read()
        down = [f for f in status.feeds if f.feed == "vendor-b" and f.health == market_data_pb2.FEED_HEALTH_DOWN]
        return status if down else None

    await wait_for(pushed_down, timeout=20)

    async def firing() -> list[monitoring_pb2.Alert]:
        listed = await stub.ListAlerts(monitoring_pb2.ListAlertsRequest(severity="critical"), timeout=10)
        assert listed.source == "alertmanager" and all(a.severity == "critical" for a in listed.alerts)
        return [a for a in listed.alerts if a.name == "FeedDown" and a.labels["feed"] == "vendor-b"]

    (alert,) = await wait_for(firing, timeout=30, interval=0.5)
    assert alert.runbook_url.endswith("/feed-failover.md") and alert.state == "active" and alert.starts_ns > 0

    silence = await stub.SilenceAlert(
        monitoring_pb2.SilenceAlertRequest(
            matchers={"alertname": "FeedDown", "feed": "vendor-b"},
            duration_s=1800,
            author="jane.doe",
            comment="INC-42 vendor-b maintenance",
        ),
        timeout=10,
    )
    assert silence.matchers == {"alertname": "FeedDown", "feed": "vendor-b", "desk": rig.desk.desk.name}
    assert silence.ends_ns - silence.starts_ns == 1800 * 10**9
    stored = get_json(f"{rig.stack.alertmanager_url}/api/v2/silence/{silence.silence_id}")
    assert stored["createdBy"] == "jane.doe" and stored["comment"] == "INC-42 vendor-b maintenance"
    assert stored["status"]["state"] == "active"
    assert {m["name"]: m["value"] for m in stored["matchers"]} == silence.matchers

    async def silenced() -> bool:
        listed = await stub.ListAlerts(monitoring_pb2.ListAlertsRequest(include_suppressed=True), timeout=10)
        ours = [a for a in listed.alerts if a.name == "FeedDown" and a.labels["feed"] == "vendor-b"]
        return bool(ours) and ours[0].state == "suppressed" and silence.silence_id in ours[0].silenced_by

    await wait_for(silenced, timeout=20, interval=0.5)
    active = await stub.ListAlerts(monitoring_pb2.ListAlertsRequest(), timeout=10)
    assert not [a for a in active.alerts if a.name == "FeedDown" and a.labels["feed"] == "vendor-b"]
    stream.cancel()


async def test_a_fill_is_pushed_on_the_status_stream_and_the_fills_stream_stays_up(rig, stub) -> None:
    """Monitoring shows a fill from routing's execution stream at once; copying it into the status once broke that
    stream on every fill (a repeated message field takes no slice assignment), so fills waited for the next
    refresh and routing saw the stream opened again per fill."""
    stream = stub.StreamDeskStatus(monitoring_pb2.StreamDeskStatusRequest())
    await stream.read()
    cid, _ = await buy_filled(rig.desk, account="ACC-EQ-1", strategy="manual", symbol="MSFT", quantity="10")

    async def shows_the_fill() -> bool:
        status = await stream.read()
        return any(f.client_order_id == cid for f in status.recent_fills)

    await wait_for(shows_the_fill, timeout=20)
    stream.cancel()
    log = (rig.desk.spec_path.parent / "logs" / "monitoring.log").read_text()
    assert "executions: subscription failed" not in log
