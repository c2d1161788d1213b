"""``RecordServiceEvents`` input: each bad field is refused by name; good events become records as documented."""

from __future__ import annotations

import json

import pytest

from tradingdesk.compliance.service_events import service_event_items
from tradingdesk.core.reject import Reject, RejectKind
from tradingdesk.v1 import compliance_pb2 as pb

TS = 1_767_225_600_000_000_000


def line(**fields) -> pb.ServiceEventRecord:
    fields = {"feed": "vendor-a", "line": "B", "actor": "sre-anna", **fields}
    return pb.ServiceEventRecord(ts_ns=TS, service="feeds", line_enabled=pb.LineEnabledRecord(**fields))


def refused(**fields) -> pb.ServiceEventRecord:
    fields = {"method": "SetLineEnabled", "code": "NOT_FOUND", "request_json": '{"feed":"nope"}', **fields}
    return pb.ServiceEventRecord(ts_ns=TS, service="feeds", refused=pb.RefusalRecord(**fields))


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "events: at least one is required"),
        ([pb.ServiceEventRecord(ts_ns=0, service="feeds", line_enabled=line().line_enabled)], "events[0].ts_ns: "),
        ([pb.ServiceEventRecord(ts_ns=TS, service="feeds")], "events[0].event: one of line_enabled or refused"),
        ([pb.ServiceEventRecord(ts_ns=TS, line_enabled=line().line_enabled)], "events[0].service: is required"),
        ([line(), line(feed="")], "events[1].line_enabled.feed: is required"),
        ([line(reason="x" * 1001)], "events[0].line_enabled.reason: at most 1000 characters"),
        ([refused(code="")], "events[0].refused.code: is required"),
        ([refused(request_json="[1]")], "events[0].refused.request_json: must be a JSON object"),
        ([refused(request_json="{")], "events[0].refused.request_json: is not JSON"),
    ],
)
def test_bad_events_are_refused_naming_the_field(events: list, message: str) -> None:
    with pytest.raises(Reject) as refusal:
        service_event_items(pb.RecordServiceEventsRequest(events=events))
    assert refusal.value.kind is RejectKind.INVALID and refusal.value.message.startswith(message)


def test_events_become_compliance_records_of_their_kind() -> None:
    toggle, refusal = service_event_items(
        pb.RecordServiceEventsRequest(events=[line(enabled=False, reason="drill", door="cli"), refused(door="grpc")])
    )
    assert (toggle.entry.source, toggle.entry.kind, toggle.entry.ts_ns, toggle.entry.seq) == (
        "compliance",
        "line_enabled",
        TS,
        0,
    )
    assert json.loads(toggle.entry.payload_json) == {
        "service": "feeds",
        "feed": "vendor-a",
        "line": "B",
        "enabled": False,
        "actor": "sre-anna",
        "reason": "drill",
        "door": "cli",
        "peer": "",
        "line_state": "",
    }
    assert refusal.entry.kind == "refused"
    payload = json.loads(refusal.entry.payload_json)
    assert payload["service"] == "feeds" and payload["method"] == "SetLineEnabled" and payload["code"] == "NOT_FOUND"
    assert payload["request"] == {"feed": "nope"} and payload["door"] == "grpc"
