"""Property-based fuzzing (hypothesis) of every RPC's request message against a running desk.

Requests are generated from the message descriptors: random values in every field (any unicode in strings,
famous bad decimals, extreme and out-of-range integers, unknown enum values, NaN and infinities, nested
messages and repeated fields). For each call: no INTERNAL, UNKNOWN or UNAVAILABLE (a crash), the desk still
up, and a refused call to a method that changes state changed nothing (no new order, the same limits
version, the same trading states and feed lines). ``TD_FUZZ_EXAMPLES`` examples per RPC: a few hundred in
``make test``, thousands with ``make fuzz``. Each RPC's count is printed and written to
``<tmp>/fuzz-counts.json``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.desk_runner import DeskProcess, write_desk
from tradingdesk.security.policy import RPC_RULES, SERVICE
from tradingdesk.v1 import (
    clock_pb2,
    common_pb2,
    compliance_pb2,
    market_data_pb2,
    market_data_pb2_grpc,
    monitoring_pb2,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("TD_FUZZ_EXAMPLES", "200"))
STREAM_DEADLINE_S = 0.1
CRASH = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE}
SERVICES = {
    "tradingdesk.v1.OrderService": ("routing", orders_pb2),
    "tradingdesk.v1.MarketDataService": ("feeds", market_data_pb2),
    "tradingdesk.v1.RiskService": ("risk", risk_pb2),
    "tradingdesk.v1.ComplianceService": ("compliance", compliance_pb2),
    "tradingdesk.v1.MonitoringService": ("monitoring", monitoring_pb2),
    "tradingdesk.v1.ClockService": ("routing", clock_pb2),  # served by every service; routing's stands for all
}
MUTATING = {name for name, rule in RPC_RULES.items() if rule.privileged} | {
    f"/tradingdesk.v1.OrderService/{m}" for m in ("SubmitOrder", "CancelOrder", "ReplaceOrder", "OrderSession")
}
INT_RANGES = {
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_ENUM: (-(2**31), 2**31 - 1),  # unknown enum values included
    F.TYPE_UINT32: (0, 2**32 - 1),
}
KNOWN = ["", "ACC-EQ-1", "ACC-EQ-2", "AAPL", "SPY", "vendor-a", "A", "B", "xnys", "twap", "O-1", "1", "0.01"]
BAD = ["1e9", "NaN", "-0", "+1", " 1", "1.", ".5", "9" * 40, "0." + "0" * 30 + "1", "\x00", "\U0001d538", "A" * 300]


def _scalar(field) -> st.SearchStrategy:
    if field.type == F.TYPE_STRING:
        text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=70)
        return st.one_of(st.sampled_from(KNOWN + BAD), text)
    if field.type == F.TYPE_BYTES:
        return st.binary(max_size=64)
    if field.type == F.TYPE_BOOL:
        return st.booleans()
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32 if field.type == F.TYPE_FLOAT else 64)
    low, high = INT_RANGES[field.type]
    edges = [low, high, 0, 1, -1] if low < 0 else [low, high, 0, 1]
    if field.type == F.TYPE_ENUM:
        edges += [v.number for v in field.enum_type.values]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def message(descriptor, cls, depth: int = 0) -> st.SearchStrategy:
    fields = {}
    for field in descriptor.fields:
        if field.type == F.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:  # map<k, v>: random entries
            key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            if value.type == F.TYPE_MESSAGE:
                if depth >= 3:
                    continue
                values = message(value.message_type, _message_class(value.message_type), depth + 1)
            else:
                values = _scalar(value)
            fields[field.name] = st.one_of(st.none(), st.dictionaries(_scalar(key), values, max_size=5))
            continue
        if field.type == F.TYPE_MESSAGE:
            if depth >= 3:
                continue
            inner = message(field.message_type, _message_class(field.message_type), depth + 1)
        else:
            inner = _scalar(field)
        if field.is_repeated:
            inner = st.lists(inner, max_size=3 if depth else 5)
        fields[field.name] = st.one_of(st.none(), inner)

    def build(values: dict):
        msg = cls()
        for name, value in values.items():
            if value is None:
                continue
            target = getattr(msg, name)
            if isinstance(value, dict):
                for k, v in value.items():
                    if hasattr(v, "CopyFrom"):
                        target[k].CopyFrom(v)
                    else:
                        target[k] = v
            elif isinstance(value, list):
                target.extend(value)
            elif hasattr(value, "CopyFrom"):
                target.CopyFrom(value)
            else:
                setattr(msg, name, value)
        return msg

    return st.fixed_dictionaries(fields).map(build)


def _message_class(descriptor):
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


def contract() -> Iterator[tuple[str, object]]:
    for full_name, (_, module) in SERVICES.items():
        for method in module.DESCRIPTOR.services_by_name[full_name.rsplit(".", 1)[1]].methods:
            yield f"/{full_name}/{method.name}", method


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Iterator[DeskProcess]:
    tmp = tmp_path_factory.mktemp("fuzz")

    def mutate(doc: dict) -> None:
        doc["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000, maxCancelsPerSecond=1_000_000)
        doc["spec"]["access"]["rateLimit"] = {"requestsPerSecond": 10_000_000, "burst": 10_000_000}

    proc = DeskProcess(write_desk(tmp, mutate))
    proc.wait_up(timeout=180)
    proc.counts = Counter()
    yield proc
    code = proc.stop()
    (tmp / "fuzz-counts.json").write_text(json.dumps(proc.counts, indent=1))
    print("\nfuzzed calls per RPC:", json.dumps(dict(sorted(proc.counts.items())), indent=1))
    assert code == 0, proc.log.read_text()[-3000:]


def fingerprint(desk: DeskProcess) -> tuple:
    """What a refused call must leave as it was."""
    with desk.channel("routing") as r, desk.channel("risk") as k, desk.channel("feeds") as f:
        orders = orders_pb2_grpc.OrderServiceStub(r).ListOrders(orders_pb2.ListOrdersRequest(limit=10_000), timeout=10)
        risk = risk_pb2_grpc.RiskServiceStub(k)
        version = risk.GetLimits(risk_pb2.GetLimitsRequest(), timeout=10).version
        states = []
        for account in ("", "ACC-EQ-1", "ACC-EQ-2"):
            info = risk.GetTradingState(risk_pb2.GetTradingStateRequest(scope=common_pb2.Scope(account=account)))
            states.append((account, info.state, info.changed_ns))
        report = market_data_pb2_grpc.MarketDataServiceStub(f).GetFeedStatus(market_data_pb2.GetFeedStatusRequest())
        disabled = sorted(
            (feed.feed, line.name) for feed in report.feeds for line in feed.lines if line.state == 5
        )  # LINE_STATE_DISABLED
    return frozenset(o.order_id for o in orders.orders), version, tuple(states), tuple(disabled)


def call(desk: DeskProcess, name: str, method, request) -> grpc.StatusCode:
    service, _ = SERVICES[name.strip("/").split("/")[0]]
    role = "admin" if RPC_RULES[name].roles - {SERVICE} else "service"
    with desk.channel(service, role) as channel:
        req_cls, resp_cls = request.__class__, _message_class(method.output_type)
        kw = {"request_serializer": req_cls.SerializeToString, "response_deserializer": resp_cls.FromString}
        try:
            if method.client_streaming:
                # a session answers each request; a gate stream sends the full picture, then heartbeats for as
                # long as it is open: the first answer is enough
                stream = channel.stream_stream(name, **kw)(iter([request]), timeout=5)
                for _ in stream:
                    stream.cancel()
                    break
            elif method.server_streaming:
                # a subscription with nothing to say yet ends at its deadline: short, or 200 examples take minutes
                stream = channel.unary_stream(name, **kw)(request, timeout=STREAM_DEADLINE_S)
                for i, _ in enumerate(stream):
                    if i >= 3:
                        stream.cancel()
                        break
            else:
                channel.unary_unary(name, **kw)(request, timeout=5)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.timeout(1800)  # hundreds of calls, each state-changing one checked against four reads
@pytest.mark.parametrize("name", [n for n, _ in contract()])
def test_fuzz_rpc(desk: DeskProcess, name: str) -> None:
    method = dict(contract())[name]
    strategy = message(method.input_type, _message_class(method.input_type))
    mutating = name in MUTATING

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(strategy)
    def fuzz(request) -> None:
        before = fingerprint(desk) if mutating else None
        code = call(desk, name, method, request)
        desk.counts[name] += 1
        assert code not in CRASH, f"{name} answered {code.name} to {request}"
        if mutating and code not in (grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED):
            assert fingerprint(desk) == before, f"{name} refused with {code.name} but changed state: {request}"

    fuzz()
    assert desk.proc.poll() is None, f"the desk died while fuzzing {name}:\n{desk.log.read_text()[-3000:]}"
