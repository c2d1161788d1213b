"""The risk service: owner of limits, trading states and the kill switch, watcher of real-time risk, and the
stream that keeps every routing gate current.

Inputs: the spec (limits and the desk's trading state at start), people (RPCs, the HTTP kill switch, the CLI,
the operator acting on ``spec.tradingState``), the routing journal (``OrderService.StreamJournal``: orders,
fills, latches) and market data (marks). Outputs: ``StreamGateUpdates`` to every gate (full picture, changes,
heartbeats), ``StreamRiskEvents`` to people and monitoring, and the risk change journal (who changed what,
when and why), from which limits, states and latch releases are restored at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import uuid
from collections import deque

import grpc
from google.protobuf.json_format import MessageToDict, ParseDict

from tradingdesk.core.clock import Clock, WallClock
from tradingdesk.core.enums import TradingState
from tradingdesk.core.fixed import DecimalFormatError, format_fixed, parse_fixed
from tradingdesk.oms.errors import RequestError, invalid, not_found, precondition
from tradingdesk.oms.requests import check_id
from tradingdesk.risk.convert import limits_from_proto, limits_to_proto, scope_proto, state_to_proto
from tradingdesk.risk.limits import DESK_SCOPE, SPEC_STATES, Limits, ScopeKey, StateEntry, limit_problems
from tradingdesk.risk.realtime import DAY_NS, Finding, RealTimeRisk, scope_label
from tradingdesk.runtime.directory import ServiceDirectory
from tradingdesk.runtime.service import exit_fenced
from tradingdesk.runtime.upstream import Upstream
from tradingdesk.spec.domain import dsn_for, instruments_of, schema_for
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.codec import decode_payload
from tradingdesk.storage.db import make_engine, prepare_schema
from tradingdesk.storage.risk_store import RiskChangeStore
from tradingdesk.v1 import (
    market_data_pb2,
    market_data_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

log = logging.getLogger(__name__)

SPEC_ACTOR = "spec"
GATE_QUEUE_BOUND = 10_000
EVENT_QUEUE_BOUND = 10_000
EVENTS_RETAINED = 2_000
EVALUATE_EVERY_S = 0.1
MAX_ACTOR = 128
MAX_REASON = 1024
EVENT_KINDS = {
    "breach": risk_pb2.RISK_EVENT_KIND_BREACH,
    "warning": risk_pb2.RISK_EVENT_KIND_WARNING,
    "recovered": risk_pb2.RISK_EVENT_KIND_RECOVERED,
}


def scope_name(scope: ScopeKey) -> str:
    return "/".join(part for part in scope if part) or "desk"


def spec_hash(desk: TradingDesk) -> str:
    """Fingerprint of the spec's limits (not of where the HTTP door listens)."""
    text = desk.spec.risk.model_dump_json(by_alias=True, exclude={"http_port"})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class RiskService(risk_pb2_grpc.RiskServiceServicer):
    name = "risk"
    service_names = ("tradingdesk.v1.RiskService",)

    def __init__(
        self,
        desk: TradingDesk,
        *,
        clock: Clock | None = None,
        dsn: str | None = None,
        directory: ServiceDirectory | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.desk = desk
        self.clock = clock or WallClock()
        self.environ = dict(os.environ if environ is None else environ)
        self.directory = directory or ServiceDirectory.for_desk(desk, self.environ)
        self.accounts = {a.name: frozenset(a.strategies) for a in desk.spec.accounts}
        self.instruments = instruments_of(desk)
        self.limits = Limits.from_spec(desk.spec.risk)
        self.states: dict[ScopeKey, StateEntry] = {DESK_SCOPE: StateEntry(TradingState.ACTIVE)}
        self.releases: dict[ScopeKey, tuple[int, str, str]] = {}  # scope -> (released at, actor, reason)
        self.kills: dict[ScopeKey, risk_pb2.KillOrder] = {}  # the last kill of each scope
        self.db = make_engine(dsn or dsn_for(desk, "risk"), schema=schema_for(desk, "risk"))
        self.store = RiskChangeStore(
            self.db, on_fenced=lambda: exit_fenced(self.name, "another risk replica took the change journal over")
        )
        self.gates: set[asyncio.Queue[risk_pb2.GateUpdate | None]] = set()
        self.listeners: set[asyncio.Queue[risk_pb2.RiskEvent | None]] = set()
        self.events: deque[risk_pb2.RiskEvent] = deque(maxlen=EVENTS_RETAINED)
        self._event_seq = 0
        self.rt = RealTimeRisk(
            self.limits,
            {s: i.sector for s, i in self.instruments.items()},
            {s: i.lot_size for s, i in self.instruments.items()},
        )
        self.upstreams: list[Upstream] = []
        self._tasks: list[asyncio.Task] = []
        self._lock: asyncio.Lock | None = None
        self.http = None

    # -- lifecycle -----------------------------------------------------------------------------------------------
    async def start(self, server: grpc.aio.Server) -> None:
        problems = self.desk.spec.risk.cross_check(set(self.instruments), self.accounts)
        if problems:
            raise ValueError("invalid spec.risk: " + "; ".join(problems))
        self._lock = asyncio.Lock()
        await asyncio.to_thread(prepare_schema, self.db)
        await asyncio.to_thread(self.store.hold)  # PostgreSQL: wait while another risk replica writes
        await asyncio.to_thread(self._restore)
        risk_pb2_grpc.add_RiskServiceServicer_to_server(self, server)
        self.upstreams = [
            Upstream("journal", self.directory.address("routing"), self._consume_journal),
            Upstream("market-data", self.directory.address("feeds"), self._consume_market_data),
        ]
        for up in self.upstreams:
            up.start()
        self._tasks.append(asyncio.create_task(self._tick(), name="risk-evaluate"))
        port = self.desk.spec.risk.http_port
        if port:
            from tradingdesk.risk.http import RiskHttpServer

            self.http = RiskHttpServer(self, self._http_host(), port, self.environ)
            await self.http.start()

    def _http_host(self) -> str:
        bind = self.environ.get("TD_BIND")
        if bind:
            return bind.rsplit(":", 1)[0] or "0.0.0.0"
        return self.desk.spec.services.risk.host

    def _restore(self) -> None:
        """Journaled states, limits and releases survive restarts; the spec's state and limits win only when the
        spec itself changed since they were recorded."""
        last_spec_state = None
        last_limits = None
        today = self.clock.now_ns() // DAY_NS
        for change in reversed(self.store.history(limit=1_000_000)):
            c = change.change
            kind = c.get("type")
            scope = (c.get("account", ""), c.get("strategy", ""))
            if kind == "trading_state":
                self.states[scope] = StateEntry(TradingState[c["state"]], change.actor, change.reason, change.ts_ns)
                if change.actor == SPEC_ACTOR and scope == DESK_SCOPE:
                    last_spec_state = c["state"]
                if c.get("kill_id"):
                    self.kills[scope] = risk_pb2.KillOrder(
                        kill_id=c["kill_id"],
                        scope=scope_proto(scope),
                        flatten=bool(c.get("flatten")),
                        actor=change.actor,
                        reason=change.reason,
                        changed_ns=change.ts_ns,
                    )
            elif kind == "limits":
                last_limits = c
            elif kind == "latch_release":
                self.releases[scope] = (change.ts_ns, change.actor, change.reason)
            elif kind == "breach" and change.ts_ns // DAY_NS == today:
                self.rt.mark_tripped(scope, c.get("metric", ""), today)
        current = spec_hash(self.desk)
        if last_limits is not None and last_limits.get("spec_hash") == current:
            msg = ParseDict(last_limits["limits"], risk_pb2.RiskLimits())
            self._set_limits(limits_from_proto(msg))
        elif last_limits is not None:
            self._set_limits(Limits.from_spec(self.desk.spec.risk, version=int(last_limits.get("version", 1)) + 1))
            self._record_limits(SPEC_ACTOR, "spec.risk changed")
        spec_state = SPEC_STATES[self.desk.spec.trading_state]
        if last_spec_state != spec_state.name:
            self._record_state(
                DESK_SCOPE, spec_state, SPEC_ACTOR, f"spec.tradingState is {self.desk.spec.trading_state}"
            )

    async def drain(self) -> None:
        """End the gate and event streams at shutdown; gates reconnect to the next risk instance by themselves."""
        for queue in (*self.gates, *self.listeners):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self.gates.clear()
        self.listeners.clear()

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for up in self.upstreams:
            await up.stop()
        self.store.release()
        self.db.dispose()

    # -- state, limits, journal ----------------------------------------------------------------------------------
    def _record_state(
        self, scope: ScopeKey, state: TradingState, actor: str, reason: str, **extra: object
    ) -> StateEntry:
        now = self.clock.now_ns()
        change = {"type": "trading_state", "account": scope[0], "strategy": scope[1], "state": state.name, **extra}
        self.store.record(now, actor, reason, scope_name(scope), change)
        entry = StateEntry(state, actor, reason, now)
        self.states[scope] = entry
        return entry

    def _set_limits(self, limits: Limits) -> None:
        self.limits = limits
        self.rt.limits = limits

    def _record_limits(self, actor: str, reason: str) -> None:
        change = {
            "type": "limits",
            "version": self.limits.version,
            "spec_hash": spec_hash(self.desk),
            "limits": MessageToDict(limits_to_proto(self.limits), preserving_proto_field_name=True),
        }
        self.store.record(self.clock.now_ns(), actor, reason, "desk", change)

    def _broadcast(self, update: risk_pb2.GateUpdate) -> None:
        update.sent_ns = self.clock.now_ns()
        for queue in tuple(self.gates):
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:
                self.gates.discard(queue)  # that gate reconnects and gets a full picture

    def full_update(self) -> risk_pb2.GateUpdate:
        kills = [
            k
            for scope, k in self.kills.items()
            if self.states.get(scope, StateEntry(TradingState.ACTIVE)).changed_ns == k.changed_ns
        ]
        return risk_pb2.GateUpdate(
            limits=limits_to_proto(self.limits),
            states=[state_to_proto(s, e) for s, e in self.states.items()],
            full=True,
            kills=kills,
            latches=[
                risk_pb2.LatchInfo(scope=scope_proto(s), control="repeated_execution", reason=why, changed_ns=ts)
                for s, (ts, why) in self.rt.latches.items()
            ],
            released=[
                risk_pb2.LatchInfo(scope=scope_proto(s), changed_ns=ts, actor=actor, reason=reason)
                for s, (ts, actor, reason) in self.releases.items()
            ],
            sent_ns=self.clock.now_ns(),
        )

    def _emit(
        self,
        kind: int,
        scope: ScopeKey,
        message: str,
        *,
        metric: str = "",
        value: str = "",
        limit: str = "",
        actor: str = "",
        state: TradingState | None = None,
    ) -> risk_pb2.RiskEvent:
        self._event_seq += 1
        event = risk_pb2.RiskEvent(
            seq=self._event_seq,
            ts_ns=self.clock.now_ns(),
            kind=kind,
            scope=scope_proto(scope),
            metric=metric,
            value=value,
            limit=limit,
            message=message,
            actor=actor,
            state=int(state) if state is not None else 0,
        )
        self.events.append(event)
        level = (
            logging.INFO
            if kind in (risk_pb2.RISK_EVENT_KIND_RECOVERED, risk_pb2.RISK_EVENT_KIND_WARNING)
            else logging.WARNING
        )
        log.log(level, "risk event %s: %s", risk_pb2.RiskEventKind.Name(kind), message)
        for queue in tuple(self.listeners):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self.listeners.discard(queue)
        return event

    async def _change_state(
        self, scope: ScopeKey, state: TradingState, actor: str, reason: str, **extra: object
    ) -> StateEntry:
        """Journal a state change, then tell every gate and listener. Journal first: a gate must never hold a
        state the risk service could forget in a crash (its next full update would undo it)."""
        assert self._lock is not None
        async with self._lock:
            entry = await asyncio.to_thread(self._record_state, scope, state, actor, reason, **extra)
            update = risk_pb2.GateUpdate(states=[state_to_proto(scope, entry)])
            kill_id = extra.get("kill_id")
            if kill_id:
                kill = risk_pb2.KillOrder(
                    kill_id=str(kill_id),
                    scope=scope_proto(scope),
                    flatten=bool(extra.get("flatten")),
                    actor=actor,
                    reason=reason,
                    changed_ns=entry.changed_ns,
                )
                self.kills[scope] = kill
                update.kills.append(kill)
            self._broadcast(update)
        self._emit(
            risk_pb2.RISK_EVENT_KIND_STATE_CHANGE,
            scope,
            f"{scope_label(scope)} is {state.name} ({reason}, by {actor})",
            actor=actor,
            state=state,
        )
        return entry

    # -- the doors: shared by gRPC, HTTP and the CLI --------------------------------------------------------------
    def parse_scope(self, account: str, strategy: str, field: str = "scope") -> ScopeKey:
        if strategy and not account:
            raise invalid(f"{field}.strategy", f"needs {field}.account")
        if account:
            check_id(f"{field}.account", account)
            if account not in self.accounts:
                raise invalid(f"{field}.account", f"{account!r} is not an account of this desk")
        if strategy:
            check_id(f"{field}.strategy", strategy)
            allowed = self.accounts[account]
            if allowed and strategy not in allowed:
                raise invalid(f"{field}.strategy", f"{strategy!r} may not trade account {account!r}")
        return account, strategy

    @staticmethod
    def person(actor: str, reason: str, what: str = "the trading state") -> tuple[str, str]:
        actor, reason = actor.strip(), reason.strip()
        if not actor:
            raise invalid("actor", f"is required: who is changing {what}")
        if not reason:
            raise invalid("reason", f"is required: why {what} changes")
        if len(actor) > MAX_ACTOR:
            raise invalid("actor", f"must be at most {MAX_ACTOR} characters")
        if len(reason) > MAX_REASON:
            raise invalid("reason", f"must be at most {MAX_REASON} characters")
        return actor, reason

    async def kill(
        self, scope: ScopeKey, actor: str, reason: str, *, flatten: bool = False, door: str = "grpc"
    ) -> tuple[str, StateEntry, int]:
        """The kill switch, whichever door it came through: HALTED, journaled with who and why, and sent to
        every gate, which mass-cancels the scope's open orders (and flattens if asked)."""
        actor, reason = self.person(actor, reason)
        kill_id = f"K{uuid.uuid4().hex[:12]}"
        gates = len(self.gates)
        entry = await self._change_state(
            scope, TradingState.HALTED, actor, reason, kill_id=kill_id, flatten=flatten, door=door
        )
        self._emit(
            risk_pb2.RISK_EVENT_KIND_KILL,
            scope,
            f"kill switch {kill_id} pulled for {scope_label(scope)} by {actor} via {door}: {reason}"
            + (" (flatten)" if flatten else ""),
            actor=actor,
            state=TradingState.HALTED,
        )
        return kill_id, entry, gates

    async def resume(self, scope: ScopeKey, actor: str, reason: str, *, door: str = "grpc") -> StateEntry:
        actor, reason = self.person(actor, reason)
        current = self.states.get(scope)
        if current is None or current.state == TradingState.ACTIVE:
            raise precondition(f"{scope_label(scope)} is already ACTIVE: nothing to resume", "NOT_HALTED")
        return await self._change_state(scope, TradingState.ACTIVE, actor, reason, door=door)

    def state_of(self, scope: ScopeKey) -> StateEntry:
        return self.states.get(scope, StateEntry(TradingState.ACTIVE))

    # -- RPCs ----------------------------------------------------------------------------------------------------
    async def GetLimits(self, request, context):
        return limits_to_proto(self.limits)

    async def SetLimits(self, request, context):
        try:
            actor, reason = self.person(request.actor, request.reason, "the limits")
            if not request.HasField("limits"):
                raise invalid("limits", "is required (read them with GetLimits, change, send back)")
            limits = limits_from_proto(request.limits, strict=True)
            problems = limit_problems(limits, set(self.instruments), self.accounts)
            if problems:
                field, _, problem = problems[0].partition(": ")
                raise invalid(field, problem + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        except RequestError as err:
            await context.abort(err.code, err.message)
        assert self._lock is not None
        async with self._lock:
            if request.expected_version and request.expected_version != self.limits.version:
                await context.abort(
                    grpc.StatusCode.ABORTED,
                    f"expected_version {request.expected_version} is not the current version {self.limits.version}: "
                    "read the limits again",
                )
            new = Limits(
                **{name: getattr(limits, name) for name in Limits.__dataclass_fields__ if name != "version"},
                version=self.limits.version + 1,
            )
            self._set_limits(new)
            await asyncio.to_thread(self._record_limits, actor, reason)
            msg = limits_to_proto(new)
            self._broadcast(risk_pb2.GateUpdate(limits=msg))
        self._emit(
            risk_pb2.RISK_EVENT_KIND_LIMITS_CHANGE,
            DESK_SCOPE,
            f"limits version {new.version} by {actor}: {reason}",
            actor=actor,
        )
        return msg

    async def GetTradingState(self, request, context):
        try:
            scope = self.parse_scope(request.scope.account, request.scope.strategy)
        except RequestError as err:
            await context.abort(err.code, err.message)
        return state_to_proto(scope, self.state_of(scope))

    async def SetTradingState(self, request, context):
        try:
            scope = self.parse_scope(request.scope.account, request.scope.strategy)
            if request.state not in (TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED):
                raise invalid("state", "must be ACTIVE, REDUCING or HALTED")
            actor, reason = self.person(request.actor, request.reason)
        except RequestError as err:
            await context.abort(err.code, err.message)
        entry = await self._change_state(scope, TradingState(request.state), actor, reason, door="grpc")
        return state_to_proto(scope, entry)

    async def KillSwitch(self, request, context):
        try:
            scope = self.parse_scope(request.scope.account, request.scope.strategy)
            kill_id, entry, gates = await self.kill(
                scope, request.actor, request.reason, flatten=request.flatten, door="grpc"
            )
        except RequestError as err:
            await context.abort(err.code, err.message)
        return risk_pb2.KillSwitchResponse(kill_id=kill_id, state=state_to_proto(scope, entry), gates=gates)

    async def Resume(self, request, context):
        try:
            scope = self.parse_scope(request.scope.account, request.scope.strategy)
            entry = await self.resume(scope, request.actor, request.reason, door="grpc")
        except RequestError as err:
            await context.abort(err.code, err.message)
        return state_to_proto(scope, entry)

    async def ReleaseLatch(self, request, context):
        try:
            scope = self.parse_scope(request.scope.account, request.scope.strategy)
            if not scope[0]:
                raise invalid("scope.account", "is required: latches hold an account or an account and strategy")
            actor, reason = self.person(request.actor, request.reason, "the latch")
        except RequestError as err:
            await context.abort(err.code, err.message)
        now = self.clock.now_ns()
        released = self.rt.latches.pop(scope, None) is not None
        change = {"type": "latch_release", "account": scope[0], "strategy": scope[1], "control": "repeated_execution"}
        await asyncio.to_thread(self.store.record, now, actor, reason, scope_name(scope), change)
        self.releases[scope] = (now, actor, reason)
        self._broadcast(
            risk_pb2.GateUpdate(
                released=[risk_pb2.LatchInfo(scope=scope_proto(scope), changed_ns=now, actor=actor, reason=reason)]
            )
        )
        self._emit(
            risk_pb2.RISK_EVENT_KIND_LATCH,
            scope,
            f"{scope_label(scope)} re-enabled by {actor}: {reason}",
            metric="repeated_execution",
            actor=actor,
        )
        return risk_pb2.ReleaseLatchResponse(released=released)

    async def StreamGateUpdates(self, request, context):
        queue: asyncio.Queue[risk_pb2.GateUpdate | None] = asyncio.Queue(GATE_QUEUE_BOUND)
        self.gates.add(queue)
        try:
            yield self.full_update()
            while True:
                interval = self.limits.stream_timeout_ns / 4e9
                try:
                    update = await asyncio.wait_for(queue.get(), interval)
                except TimeoutError:
                    if queue not in self.gates:
                        return  # dropped (fell behind or shutting down): the gate reconnects for a full picture
                    yield risk_pb2.GateUpdate(heartbeat=True, sent_ns=self.clock.now_ns())
                    continue
                if update is None:
                    return
                yield update
                if queue not in self.gates and queue.empty():
                    return
        finally:
            self.gates.discard(queue)

    async def StreamRiskEvents(self, request, context):
        queue: asyncio.Queue[risk_pb2.RiskEvent | None] = asyncio.Queue(EVENT_QUEUE_BOUND)
        self.listeners.add(queue)
        wanted = not request.exclude_warnings
        try:
            last = 0
            if request.from_seq:
                for event in list(self.events):
                    if event.seq >= request.from_seq and (wanted or event.kind not in _QUIET):
                        last = event.seq
                        yield event
            while True:
                event = await queue.get()
                if event is None:
                    return
                if event.seq <= last or (not wanted and event.kind in _QUIET):
                    continue
                yield event
        finally:
            self.listeners.discard(queue)

    async def GetRiskSnapshot(self, request, context):
        try:
            scope = self.parse_scope(request.scope.account, request.scope.strategy)
        except RequestError as err:
            await context.abort(err.code, err.message)
        return self.snapshot(scope)

    def snapshot(self, scope: ScopeKey) -> risk_pb2.RiskSnapshot:
        now = self.clock.now_ns()
        rt = self.rt
        realized, unrealized = rt.pnl(scope)
        daily, peak, drawdown = rt.daily(scope, now)
        exp = rt.exposure(scope)
        var, es, n = rt.var_es(scope)
        return risk_pb2.RiskSnapshot(
            scope=scope_proto(scope),
            realized_pnl=format_fixed(realized),
            unrealized_pnl=format_fixed(unrealized),
            daily_pnl=format_fixed(daily),
            peak_daily_pnl=format_fixed(peak),
            drawdown=format_fixed(drawdown),
            gross_exposure=format_fixed(exp["gross"]),
            net_exposure=format_fixed(exp["net"]),
            open_order_notional=format_fixed(exp["open_notional"]),
            symbols=[
                risk_pb2.SymbolExposure(
                    symbol=sym,
                    sector=rt.sectors.get(sym, ""),
                    quantity=format_fixed(qty),
                    mark=format_fixed(mark),
                    gross=format_fixed(abs(value)),
                    net=format_fixed(value),
                )
                for sym, (qty, mark, value) in exp["symbols"].items()
            ],
            sectors=[
                risk_pb2.SectorExposure(sector=sec, gross=format_fixed(g), net=format_fixed(n_))
                for sec, (g, n_) in sorted(exp["sectors"].items())
            ],
            var=var,
            expected_shortfall=es,
            var_scenarios=n,
            var_confidence_pct=self.limits.breakers.var_confidence_pct,
            state=int(self.state_of(scope).state),
            journal_seq=rt.last_seq,
            ts_ns=now,
        )

    async def SuggestPositionSize(self, request, context):
        try:
            if request.symbol not in self.instruments:
                raise invalid("symbol", f"{request.symbol[:32]!r} is not an instrument of this desk")
            if not request.risk_budget:
                raise invalid("risk_budget", "is required")
            try:
                budget = parse_fixed(request.risk_budget)
            except DecimalFormatError as exc:
                raise invalid("risk_budget", str(exc)) from None
            if budget <= 0:
                raise invalid("risk_budget", "must be > 0")
            if request.horizon_seconds < 0 or request.horizon_seconds > 10 * 86_400:
                raise invalid("horizon_seconds", "must be between 0 and 864000")
            out = self.rt.position_size(request.symbol, budget, request.horizon_seconds or 23_400)
            if not out["price"]:
                raise not_found(f"no mark for {request.symbol} yet: market data has not arrived")
            if out["samples"] < 2:
                raise precondition(f"not enough returns of {request.symbol} yet to estimate volatility", "NO_HISTORY")
        except RequestError as err:
            await context.abort(err.code, err.message)
        return risk_pb2.SuggestPositionSizeResponse(
            quantity=format_fixed(out["quantity"]),
            volatility=out["volatility"],
            horizon_volatility=out["horizon_volatility"],
            price=format_fixed(out["price"]),
            samples=out["samples"],
        )

    # -- real-time inputs ----------------------------------------------------------------------------------------
    async def _consume_journal(self, channel: grpc.aio.Channel) -> None:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        stream = stub.StreamJournal(orders_pb2.StreamJournalRequest(from_seq=self.rt.last_seq + 1))
        async for batch in stream:
            now = self.clock.now_ns()
            for ev in batch.events:
                self.rt.on_event(ev.seq, ev.ts_ns, ev.kind, ev.order_id, decode_payload(ev.payload_json), now)
            if self.rt.pending:
                await self.evaluate()

    def apply_journal(self, records, now_ns: int | None = None) -> None:
        """Apply journal records directly (tests and tools that replay a journal without a routing service)."""
        now = self.clock.now_ns() if now_ns is None else now_ns
        for rec in records:
            self.rt.on_event(rec.seq, rec.ts_ns, rec.kind, rec.order_id, rec.payload, now)

    async def _consume_market_data(self, channel: grpc.aio.Channel) -> None:
        """Marks: last trades, and a quote's last price until a trade arrives (stale quotes are no marks)."""
        stub = market_data_pb2_grpc.MarketDataServiceStub(channel)
        rt = self.rt
        async for batch in stub.SubscribeBatches(market_data_pb2.SubscribeRequest()):
            for event in batch.events:
                which = event.WhichOneof("event")
                if which == "trade":
                    rt.on_mark(event.trade.symbol, parse_fixed(event.trade.price))
                elif which == "quote":
                    q = event.quote
                    if q.last_price and not q.stale and q.symbol not in rt.marks:
                        rt.on_mark(q.symbol, parse_fixed(q.last_price))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(EVALUATE_EVERY_S)
            try:
                self.rt.sample(self.clock.now_ns())
                await self.evaluate()
            except Exception:
                log.exception("risk evaluation failed")

    async def evaluate(self) -> list[Finding]:
        """Judge the limits now: publish breaches, warnings and recoveries; halt what a breach halts."""
        findings = self.rt.evaluate(self.clock.now_ns())
        for f in findings:
            scope = f.scope
            if f.metric == "repeated_execution":
                self._emit(
                    risk_pb2.RISK_EVENT_KIND_LATCH,
                    scope,
                    f"{scope_label(scope)} latched off: {f.message}",
                    metric=f.metric,
                )
                self._broadcast(
                    risk_pb2.GateUpdate(
                        latches=[
                            risk_pb2.LatchInfo(
                                scope=scope_proto(scope),
                                control=f.metric,
                                reason=f.message,
                                changed_ns=self.rt.latches.get(scope, (0, ""))[0],
                            )
                        ]
                    )
                )
                continue
            value = f.value if isinstance(f.value, int) else round(f.value)
            self._emit(
                EVENT_KINDS[f.kind],
                scope,
                f.message,
                metric=f.metric,
                value=format_fixed(value) if f.metric not in _COUNT_METRICS else str(value),
                limit=format_fixed(f.limit) if f.metric not in _COUNT_METRICS else str(f.limit),
            )
            if f.halt and self.state_of(scope).state != TradingState.HALTED:
                actor = f"risk:{f.metric}"
                now = self.clock.now_ns()
                change = {"type": "breach", "account": scope[0], "strategy": scope[1], "metric": f.metric}
                await asyncio.to_thread(self.store.record, now, actor, f.message, scope_name(scope), change)
                await self._change_state(scope, TradingState.HALTED, actor, f.message, door="risk")
        return findings


_QUIET = (risk_pb2.RISK_EVENT_KIND_WARNING, risk_pb2.RISK_EVENT_KIND_RECOVERED)
_COUNT_METRICS = frozenset({"consecutive_losses", "venue_errors", "slippage"})
