"""The one codec of journal events: a typed event to a journal record (kind, order id, payload) and back.

Payloads are plain JSON values; decimals are strings ("101.25") and enums are names ("BUY"), so an auditor
reading the journal sees what a person would write. Each order event stores the order's terms and its state
after the change, so any one record is enough to report on it.

Versions: a payload written by this codec carries ``"v": 1``. Records written before the codec existed have
no ``v`` (version 0: the same fields, built by hand); they decode through the same functions, since version 1
only added the marker. A payload with a version this code does not know is refused with ``UnknownVersion``
rather than guessed at: a newer writer must never be misread by an older reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from sys import intern
from typing import Any, Protocol

from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce, TradingState
from tradingdesk.core.events import (
    DESK_EVENTS,
    ORDER_EVENTS,
    RISK_CHANGES,
    AccessDecision,
    AccessRecorded,
    BreachHalted,
    CancelRejected,
    ChangeAccess,
    ChangeRefused,
    DeskEvent,
    FeedSwitched,
    Incident,
    JournalEvent,
    LatchReleased,
    LimitsChanged,
    OrderEvent,
    OrderFilled,
    OrderPending,
    OrderRestated,
    OrderTerms,
    PositionReport,
    Refusal,
    ReplaceRejected,
    ReplaceRequested,
    RequestRefused,
    RiskChange,
    RiskLatched,
    TradingStateChanged,
    VenueFaultSet,
)
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.core.frozen_build import positional_builder

VERSION = 1
KNOWN_VERSIONS = frozenset({0, 1})

EVENT_TYPES: dict[str, type[OrderEvent] | type[DeskEvent]] = {cls.kind: cls for cls in (*ORDER_EVENTS, *DESK_EVENTS)}
ORDER_KINDS = frozenset(cls.kind for cls in ORDER_EVENTS)
"""Kinds of the records that are executions of one order (the rest are about a scope of the desk)."""


class UnknownVersion(ValueError):
    """A payload written by a newer codec than this one."""


class UnknownKind(ValueError):
    """A journal kind no event type has."""


# -- encoding ------------------------------------------------------------------------------------------------
def encode(event: JournalEvent) -> dict[str, Any]:
    """The journal payload of ``event`` (its kind and order id travel beside it, as their own columns)."""
    if isinstance(event, OrderEvent):
        return _encode_order(event)
    if isinstance(event, RiskLatched):
        return {
            "v": VERSION,
            "account": event.account,
            "strategy": event.strategy,
            "symbol": event.symbol,
            "control": event.control,
            "reason": event.reason,
            "tripped_ns": event.tripped_ns,
        }
    if isinstance(event, Incident):
        return {
            "v": VERSION,
            "account": event.account,
            "strategy": event.strategy,
            "symbol": "",
            "state": "HALTED",
            "actor": event.actor,
            "reason": event.reason,
            "state_changed_ns": event.state_changed_ns,
            "kill_id": event.kill_id,
            "open_orders": event.open_orders,
            "cancelled": list(event.cancelled),
            "positions": [
                {
                    "account": p.account,
                    "symbol": p.symbol,
                    "qty": format_fixed(p.qty),
                    "avg_cost": format_fixed(p.avg_cost),
                    "mark": format_fixed(p.mark),
                    "realized_pnl": format_fixed(p.realized_pnl),
                    "unrealized_pnl": format_fixed(p.unrealized_pnl),
                }
                for p in event.positions
            ],
            "realized_pnl": format_fixed(event.realized_pnl),
            "unrealized_pnl": format_fixed(event.unrealized_pnl),
            "flatten": event.flatten,
            "flatten_orders": list(event.flatten_orders),
        }
    if isinstance(event, RequestRefused):
        return {
            "v": VERSION,
            "account": event.account,
            "strategy": event.strategy,
            "symbol": event.symbol,
            **encode_refusal(event.refusal),
        }
    if isinstance(event, FeedSwitched):
        return {
            "v": VERSION,
            "account": "",
            "symbol": "",
            "feed": event.feed,
            "from_line": event.from_line,
            "to_line": event.to_line,
            "reason": event.reason,
            "failback": event.failback,
            "took_ns": event.took_ns,
            "switched_ns": event.switched_ns,
        }
    if isinstance(event, VenueFaultSet):
        return {
            "v": VERSION,
            "account": "",
            "symbol": "",
            "venue": event.venue,
            "mode": event.mode,
            "reason": event.reason,
            "actor": event.actor,
            "door": event.door,
        }
    if isinstance(event, AccessRecorded):
        return {"v": VERSION, "account": "", "symbol": "", **encode_access(event.decision)}
    raise UnknownKind(f"no encoding for {type(event).__name__}")


def encode_refusal(refusal: Refusal) -> dict[str, Any]:
    """A refused request's fields, the same in the routing journal and the risk change journal."""
    return {
        "method": refusal.method,
        "door": refusal.door,
        "reject_kind": refusal.reject_kind,
        "code": refusal.code,
        "status": refusal.status,
        "message": refusal.message,
        "request": dict(refusal.request),
    }


def decode_refusal(p: Mapping[str, Any]) -> Refusal:
    return Refusal(
        method=p["method"],
        door=p.get("door", ""),
        reject_kind=p.get("reject_kind", ""),
        code=p.get("code", ""),
        status=p.get("status", ""),
        message=p.get("message", ""),
        request=p.get("request", {}),
    )


def encode_access(decision: AccessDecision) -> dict[str, Any]:
    """An access decision's fields (its time travels beside them), wherever it is journaled."""
    return {
        "identity": decision.identity,
        "via": decision.via,
        "method": decision.method,
        "allowed": decision.allowed,
        "code": decision.code,
        "detail": decision.detail,
        "privileged": decision.privileged,
        "peer": decision.peer,
        "request": dict(decision.request),
        "count": decision.count,
    }


def decode_access(ts_ns: int, p: Mapping[str, Any]) -> AccessDecision:
    return AccessDecision(
        ts_ns=ts_ns,
        identity=p["identity"],
        via=p.get("via", ""),
        method=p["method"],
        allowed=bool(p["allowed"]),
        code=p.get("code", ""),
        detail=p.get("detail", ""),
        privileged=bool(p.get("privileged", False)),
        peer=p.get("peer", ""),
        request=p.get("request", {}),
        count=int(p.get("count", 1)),
    )


def terms_payload(terms: OrderTerms) -> dict[str, Any]:
    """The order's fixed fields as payload values, rendered once and kept on the terms while the order is being
    worked (``_encode_order`` drops them when it rests or ends)."""
    encoded = terms.encoded
    if encoded is None:
        encoded = {
            "client_order_id": terms.client_order_id,
            "account": terms.account,
            "strategy": terms.strategy,
            "symbol": terms.symbol,
            "side": terms.side.name,
            "order_type": terms.order_type.name,
            "qty": format_fixed(terms.qty),
            "price": format_fixed(terms.price),
            "tif": terms.tif.name,
            "expire_ns": terms.expire_ns,
            "created_ns": terms.created_ns,
        }
        if terms.replaces_order_id:
            encoded["replaces_order_id"] = terms.replaces_order_id
        if terms.parent_order_id:
            encoded["parent_order_id"] = terms.parent_order_id
        object.__setattr__(terms, "encoded", encoded)  # a cache of derived text, not a change of the terms
    return encoded


def quantity_and_price(terms: OrderTerms) -> tuple[str, str]:
    """The order's quantity and limit price as the journal renders them: from the rendering kept while the order
    is worked, else rendered now and not kept (a resting or finished order's terms keep none: ~460 bytes each)."""
    encoded = terms.encoded
    if encoded is not None:
        return encoded["qty"], encoded["price"]
    return format_fixed(terms.qty), format_fixed(terms.price)


def _encode_order(ev: OrderEvent) -> dict[str, Any]:
    static = terms_payload(ev.terms)
    payload = {"v": VERSION, **static, "status": ev.status.name}
    if ev.status is OrderStatus.NEW or not ev.is_open:
        # resting or done: no event is due soon, and the cache would stay with every resting order (~750 bytes
        # each); a later event renders the fields again once
        object.__setattr__(ev.terms, "encoded", None)
    if ev.cum_qty:
        payload["cum_qty"] = format_fixed(ev.cum_qty)
        payload["cum_notional"] = format_fixed(ev.cum_notional)
        payload["leaves_qty"] = format_fixed(ev.leaves_qty)
        payload["avg_price"] = format_fixed(ev.avg_price)
    else:
        payload["cum_qty"] = payload["cum_notional"] = payload["avg_price"] = "0"
        payload["leaves_qty"] = static["qty"] if ev.is_open else "0"
    payload["fees"] = format_fixed(ev.fees) if ev.fees else "0"
    payload["venue"] = ev.venue
    if ev.replaced_by_order_id:
        payload["replaced_by_order_id"] = ev.replaced_by_order_id
    if ev.text:
        payload["text"] = ev.text
    if isinstance(ev, OrderFilled):
        payload["exec_id"] = ev.exec_id
        payload["last_qty"] = format_fixed(ev.last_qty)
        payload["last_price"] = format_fixed(ev.last_price)
        payload["fee"] = format_fixed(ev.fee)
        payload["liquidity"] = ev.liquidity
        payload["fill_venue"] = ev.fill_venue
    elif isinstance(ev, OrderPending):
        payload["requested_venue"] = ev.requested_venue
        if ev.reference_ns:
            payload["reference_ns"] = ev.reference_ns
    elif isinstance(ev, ReplaceRequested):
        payload["new_order_id"] = ev.new_order_id
        payload["new_client_order_id"] = ev.new_client_order_id
        payload["new_qty"] = format_fixed(ev.new_qty)
        payload["new_price"] = format_fixed(ev.new_price)
    elif isinstance(ev, CancelRejected | ReplaceRejected):
        payload["reason"] = ev.reason
    return payload


# -- decoding ------------------------------------------------------------------------------------------------
def decode(kind: str, order_id: str, ts_ns: int, payload: Mapping[str, Any]) -> JournalEvent:
    """The event of one journal record, of any known version. Raises ``UnknownKind``/``UnknownVersion``,
    or ``KeyError``/``ValueError`` for a payload that is not what its kind stores."""
    version = payload.get("v", 0)
    if version not in KNOWN_VERSIONS:
        raise UnknownVersion(f"journal payload version {version!r} is newer than this reader (knows {VERSION})")
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise UnknownKind(f"unknown journal kind {kind!r}")
    if issubclass(cls, OrderEvent):
        return _decode_order(cls, order_id, ts_ns, payload)
    if cls is RiskLatched:
        return RiskLatched(
            ts_ns=ts_ns,
            account=payload["account"],
            strategy=payload.get("strategy", ""),
            symbol=payload.get("symbol", ""),
            reason=payload.get("reason", ""),
            tripped_ns=payload.get("tripped_ns", ts_ns),
            control=payload.get("control", "repeated_execution"),
        )
    if cls is RequestRefused:
        return RequestRefused(
            ts_ns=ts_ns,
            account=payload.get("account", ""),
            strategy=payload.get("strategy", ""),
            symbol=payload.get("symbol", ""),
            refusal=decode_refusal(payload),
        )
    if cls is FeedSwitched:
        return FeedSwitched(
            ts_ns=ts_ns,
            feed=payload["feed"],
            from_line=payload["from_line"],
            to_line=payload["to_line"],
            reason=payload.get("reason", ""),
            failback=bool(payload.get("failback", False)),
            took_ns=payload.get("took_ns", 0),
            switched_ns=payload.get("switched_ns", ts_ns),
        )
    if cls is VenueFaultSet:
        return VenueFaultSet(
            ts_ns=ts_ns,
            venue=payload["venue"],
            mode=payload["mode"],
            reason=payload.get("reason", ""),
            actor=payload.get("actor", ""),
            door=payload.get("door", ""),
        )
    if cls is AccessRecorded:
        return AccessRecorded(ts_ns=ts_ns, decision=decode_access(ts_ns, payload))
    return Incident(
        ts_ns=ts_ns,
        account=payload.get("account", ""),
        strategy=payload.get("strategy", ""),
        actor=payload.get("actor", ""),
        reason=payload.get("reason", ""),
        state_changed_ns=payload.get("state_changed_ns", 0),
        kill_id=payload.get("kill_id", ""),
        open_orders=payload.get("open_orders", 0),
        cancelled=tuple(payload.get("cancelled", ())),
        positions=tuple(
            PositionReport(
                account=p["account"],
                symbol=p["symbol"],
                qty=_signed(p["qty"]),
                avg_cost=_signed(p["avg_cost"]),
                mark=_signed(p["mark"]),
                realized_pnl=_signed(p["realized_pnl"]),
                unrealized_pnl=_signed(p["unrealized_pnl"]),
            )
            for p in payload.get("positions", ())
        ),
        realized_pnl=_signed(payload.get("realized_pnl", "0")),
        unrealized_pnl=_signed(payload.get("unrealized_pnl", "0")),
        flatten=bool(payload.get("flatten", False)),
        flatten_orders=tuple(payload.get("flatten_orders", ())),
    )


def decode_terms(order_id: str, p: Mapping[str, Any]) -> OrderTerms:
    return _build_terms(
        order_id,
        p["client_order_id"],
        # one string object per account and symbol however many orders hold them
        intern(p["account"]),
        intern(p.get("strategy", "")),
        intern(p["symbol"]),
        Side[p["side"]],
        OrderType[p["order_type"]],
        _units(p["qty"]),
        _units(p["price"]),
        TimeInForce[p["tif"]],
        p["expire_ns"],
        p["created_ns"],
        p.get("replaces_order_id", ""),
        p.get("parent_order_id", ""),
        None,  # encoded: the encoder's cache, filled in when the order is encoded
    )


# Events and terms built positionally (``core/frozen_build.py``): a restart decodes one event per journal record
# replayed, and the frozen dataclasses' keyword ``__init__`` was an eighth of its replay's CPU.
_build_terms = positional_builder(OrderTerms)
_BUILD_EVENT = {cls: positional_builder(cls) for cls in EVENT_TYPES.values() if issubclass(cls, OrderEvent)}


def _decode_order(
    cls: type[OrderEvent], order_id: str, ts_ns: int, p: Mapping[str, Any], terms: OrderTerms | None = None
) -> OrderEvent:
    # every field, in the order of ``dataclasses.fields``: the common ones, then the class's own
    common = (
        ts_ns,
        terms if terms is not None else decode_terms(order_id, p),
        OrderStatus[p["status"]],
        _units(p["cum_qty"]),
        _signed(p["cum_notional"]),
        _signed(p["fees"]),
        p["venue"],
        p.get("text", ""),
        p.get("replaced_by_order_id", ""),
    )
    build = _BUILD_EVENT[cls]
    if cls is OrderFilled:
        return build(
            *common,
            p["exec_id"],
            _units(p["last_qty"]),
            _units(p["last_price"]),
            _signed(p["fee"]),
            p.get("liquidity", ""),
            p.get("fill_venue", p["venue"]),
        )
    if cls is OrderPending:
        return build(*common, p.get("requested_venue", ""), p.get("reference_ns", 0))
    if cls is ReplaceRequested:
        return build(*common, p["new_order_id"], p["new_client_order_id"], _units(p["new_qty"]), _units(p["new_price"]))
    if cls is CancelRejected or cls is ReplaceRejected:
        return build(*common, p.get("reason", ""))
    return build(*common)


def payload_scope(payload: Mapping[str, Any]) -> tuple[str, str]:
    """(account, symbol) of an encoded record without decoding it: every version keeps both at the top level
    (empty for what concerns no account or symbol), so a forwarder can index records cheaply."""
    return payload.get("account", ""), payload.get("symbol", "")


class RecordLike(Protocol):
    """A journal record as ``storage.journal.JournalRecord`` has it."""

    kind: str
    order_id: str
    ts_ns: int
    payload: Mapping[str, Any]
    event: JournalEvent | None


def record_event(rec: RecordLike) -> JournalEvent:
    """The typed event of a journal record: the one it was appended with, else decoded (and kept on it)."""
    event = rec.event
    if event is None:
        event = decode(rec.kind, rec.order_id, rec.ts_ns, rec.payload)
        object.__setattr__(rec, "event", event)  # the record is frozen; this caches what it already says
    return event


_RESTING = OrderStatus.NEW


class StreamDecoder:
    """Decodes a stream of journal records in seq order, parsing each order's terms once.

    The terms of an order never change, so the decoder keeps them from the order's first record while the order
    is being worked and forgets them once it rests (``NEW``) or closes: a consumer of a busy journal parses the
    few changing fields per event only, and 100,000 resting orders do not each keep their terms (~300 bytes) in
    every consumer (a resting order's next event, hours later perhaps, parses them again), as the encoder's
    cache (``_encode_order``). ``keep_resting``: keep them until the order closes, for a consumer that holds
    every open order's terms anyway (the order engine's replay: sharing them costs nothing there, and a busy
    journal's cancels of resting orders are not parsed again)."""

    def __init__(self, *, keep_resting: bool = False) -> None:
        self._terms: dict[str, OrderTerms] = {}
        self._forget = None if keep_resting else _RESTING

    def decode(self, kind: str, order_id: str, ts_ns: int, payload: Mapping[str, Any]) -> JournalEvent:
        cls = EVENT_TYPES.get(kind)
        if cls is None or not order_id or not issubclass(cls, OrderEvent):
            return decode(kind, order_id, ts_ns, payload)
        version = payload.get("v", 0)
        if version not in KNOWN_VERSIONS:
            raise UnknownVersion(f"journal payload version {version!r} is newer than this reader (knows {VERSION})")
        if cls is OrderRestated:  # a restatement changes the terms: read them from this record
            self._terms.pop(order_id, None)
        terms = self._terms.get(order_id)
        event = _decode_order(cls, order_id, ts_ns, payload, terms)
        if event.is_open and event.status is not self._forget:
            if terms is None:
                self._terms[order_id] = event.terms
        elif terms is not None:
            del self._terms[order_id]
        return event


@lru_cache(maxsize=16_384)
def _units(text: str) -> int:
    """A quantity or price of a payload. Prices and quantities repeat (the tick grid, round lots), so the
    parses are cached: a busy consumer decodes most events without parsing a digit."""
    return parse_fixed(text)


@lru_cache(maxsize=16_384)
def _signed(text: str) -> int:
    """An amount that may be negative (fees and rebates, P&L)."""
    return parse_fixed(text, allow_negative=True)


# -- the risk service's change journal ---------------------------------------------------------------------------
CHANGE_TYPES: dict[str, type[RiskChange]] = {cls.type: cls for cls in RISK_CHANGES}


def encode_change(change: RiskChange) -> dict[str, Any]:
    """The ``change`` column of a risk change (ts, actor and reason are columns of their own)."""
    out: dict[str, Any] = {"v": VERSION, "type": change.type, "account": change.account, "strategy": change.strategy}
    if isinstance(change, TradingStateChanged):
        out["state"] = change.state.name
        if change.kill_id:
            out["kill_id"] = change.kill_id
            out["flatten"] = change.flatten
        if change.door:
            out["door"] = change.door
    elif isinstance(change, LimitsChanged):
        out.update(version=change.version, spec_hash=change.spec_hash, limits=dict(change.limits))
        if change.door:
            out["door"] = change.door
    elif isinstance(change, LatchReleased):
        out["control"] = change.control
        if change.door:
            out["door"] = change.door
    elif isinstance(change, BreachHalted):
        out["metric"] = change.metric
    elif isinstance(change, ChangeRefused):
        out.update(encode_refusal(change.refusal))
    elif isinstance(change, ChangeAccess):
        out.update(encode_access(change.decision))
    return out


def decode_change(*, ts_ns: int, actor: str, reason: str, change: Mapping[str, Any]) -> RiskChange:
    """A stored risk change of any known version (version 0: the same keys, written before the codec)."""
    version = change.get("v", 0)
    if version not in KNOWN_VERSIONS:
        raise UnknownVersion(f"risk change version {version!r} is newer than this reader (knows {VERSION})")
    cls = CHANGE_TYPES.get(change.get("type", ""))
    if cls is None:
        raise UnknownKind(f"unknown risk change type {change.get('type')!r}")
    common = {
        "ts_ns": ts_ns,
        "actor": actor,
        "reason": reason,
        "account": change.get("account", ""),
        "strategy": change.get("strategy", ""),
    }
    if cls is TradingStateChanged:
        return TradingStateChanged(
            **common,
            state=TradingState[change["state"]],
            kill_id=change.get("kill_id", ""),
            flatten=bool(change.get("flatten", False)),
            door=change.get("door", ""),
        )
    if cls is LimitsChanged:
        return LimitsChanged(
            **common,
            version=int(change.get("version", 1)),
            spec_hash=change.get("spec_hash", ""),
            limits=change["limits"],
            door=change.get("door", ""),
        )
    if cls is LatchReleased:
        return LatchReleased(**common, control=change.get("control", "repeated_execution"), door=change.get("door", ""))
    if cls is ChangeRefused:
        return ChangeRefused(**common, refusal=decode_refusal(change))
    if cls is ChangeAccess:
        return ChangeAccess(**common, decision=decode_access(ts_ns, change))
    return BreachHalted(**common, metric=change.get("metric", ""))
