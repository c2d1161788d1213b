"""RiskService over gRPC: parse, hand to the risk state (or read the monitor), answer.

Every mutation goes through ``RiskState``, which the HTTP kill switch shares; this module only maps requests
and answers between protobuf and the domain, and a ``Reject`` to its gRPC status (``edge/status.py``). A
refused request to change something is journaled (``ChangeRefused``) before it is answered, with the door it
came through (``edge/door.py``), and ``StreamChanges`` serves the change journal to the audit trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from google.protobuf.message import Message
from sqlalchemy.exc import OperationalError

from tradingdesk.core.enums import TradingState
from tradingdesk.core.fixed import DecimalFormatError, format_fixed, format_pnl, parse_fixed
from tradingdesk.core.instruments import Instrument
from tradingdesk.core.reject import Reject, conflict, invalid, not_found, refused
from tradingdesk.edge.door import door_of
from tradingdesk.edge.refusals import grpc_refusal
from tradingdesk.edge.status import abort
from tradingdesk.risk.delivery import Delivery, GateLink
from tradingdesk.risk.limits import Limits, StateEntry, limit_problems
from tradingdesk.risk.monitor import RealTimeRisk
from tradingdesk.risk.scope import DESK_SCOPE, ScopeKey
from tradingdesk.risk.state import QUIET_KINDS, RiskState
from tradingdesk.risk.wire import limits_from_proto, limits_to_proto, scope_proto, state_to_proto
from tradingdesk.v1 import risk_pb2, risk_pb2_grpc

log = logging.getLogger(__name__)

EVENT_QUEUE_BOUND = 10_000
MAX_HORIZON_S = 10 * 86_400
CHANGES_CHUNK = 1_000
MAX_SEQ = 2**63 - 1  # the journal's ids are signed 64-bit
CHANGES_RECHECK_S = 1.0  # a reader also looks for new changes this often (a wake-up can never be missed for long)


class RiskServicer(risk_pb2_grpc.RiskServiceServicer):
    def __init__(self, state: RiskState, monitor: RealTimeRisk, instruments: dict[str, Instrument]) -> None:
        self.state = state
        self.monitor = monitor
        self.instruments = instruments

    # -- limits ---------------------------------------------------------------------------------------------------
    async def GetLimits(self, request, context):
        return limits_to_proto(self.state.limits)

    async def SetLimits(self, request, context):
        state = self.state
        try:
            actor, reason = state.person(request.actor, request.reason, "the limits")
            if not request.HasField("limits"):
                raise invalid("limits", "is required (read them with GetLimits, change, send back)")
            limits = limits_from_proto(request.limits, strict=True)
            problems = limit_problems(limits, set(self.instruments), state.accounts)
            if problems:
                field, _, problem = problems[0].partition(": ")
                raise invalid(field, problem + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        except Reject as reject:
            await self._refuse(context, reject, "SetLimits", request)
        async with state.lock:
            current = state.limits.version
            if request.expected_version and request.expected_version != current:
                reject = conflict(
                    f"expected_version {request.expected_version} is not the current version {current}: "
                    "read the limits again",
                    "LIMITS_VERSION",
                )
                await self._refuse(context, reject, "SetLimits", request)
            new = Limits(
                **{name: getattr(limits, name) for name in Limits.__dataclass_fields__ if name != "version"},
                version=current + 1,
            )
            state.set_limits(new)
            await asyncio.to_thread(state.record_limits, actor, reason, door=door_of(context))
            msg = limits_to_proto(new)
            state.broadcast(risk_pb2.GateUpdate(limits=msg))
        state.emit(
            risk_pb2.RISK_EVENT_KIND_LIMITS_CHANGE,
            DESK_SCOPE,
            f"limits version {new.version} by {actor}: {reason}",
            actor=actor,
        )
        return msg

    # -- trading states ---------------------------------------------------------------------------------------------
    async def GetTradingState(self, request, context):
        try:
            scope = self._scope(request)
        except Reject as reject:
            await abort(context, reject)
        return state_to_proto(scope, self.state.state_of(scope))

    async def SetTradingState(self, request, context):
        try:
            scope = self._scope(request)
            if request.state not in (TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED):
                raise invalid("state", "must be ACTIVE, REDUCING or HALTED")
            actor, reason = self.state.person(request.actor, request.reason)
        except Reject as reject:
            await self._refuse(context, reject, "SetTradingState", request)
        entry, delivery = await self.state.change_state(
            scope, TradingState(request.state), actor, reason, door=door_of(context), answer_by=_answer_by(context)
        )
        return _applied(scope, entry, delivery)

    async def KillSwitch(self, request, context):
        try:
            scope = self._scope(request)
            kill_id, entry, delivery = await self.state.kill(
                scope,
                request.actor,
                request.reason,
                flatten=request.flatten,
                door=door_of(context),
                answer_by=_answer_by(context),
            )
        except Reject as reject:
            await self._refuse(context, reject, "KillSwitch", request)
        return risk_pb2.KillSwitchResponse(
            kill_id=kill_id, state=_applied(scope, entry, delivery), gates=delivery.gates
        )

    async def Resume(self, request, context):
        try:
            scope = self._scope(request)
            entry, delivery = await self.state.resume(
                scope, request.actor, request.reason, door=door_of(context), answer_by=_answer_by(context)
            )
        except Reject as reject:
            await self._refuse(context, reject, "Resume", request)
        return _applied(scope, entry, delivery)

    async def ReleaseLatch(self, request, context):
        try:
            scope = self._scope(request)
            if not scope[0]:
                raise invalid("scope.account", "is required: latches hold an account or an account and strategy")
            actor, reason = self.state.person(request.actor, request.reason, "the latch")
        except Reject as reject:
            await self._refuse(context, reject, "ReleaseLatch", request)
        released = await self.state.release_latch(scope, actor, reason, door=door_of(context))
        return risk_pb2.ReleaseLatchResponse(released=released)

    async def _refuse(self, context, reject: Reject, method: str, request: Message) -> None:
        """Journal the refused request, then answer it. The actor, reason and scope are recorded as given (the
        scope only when it names one of the desk's), the request's fields as sent."""
        refusal = grpc_refusal(method=method, door=door_of(context), reject=reject, request=request)
        try:
            scope = self._scope(request) if "scope" in request.DESCRIPTOR.fields_by_name else DESK_SCOPE
        except Reject:
            scope = DESK_SCOPE  # not one of the desk's: the request fields keep what was asked
        try:
            await self.state.record_refusal(refusal, actor=request.actor, reason=request.reason, scope=scope)
        except Exception:
            log.exception("risk: the refusal of %s (%s) could not be journaled", method, reject.code)
        await abort(context, reject)

    # -- streams ----------------------------------------------------------------------------------------------------
    async def StreamGateUpdates(self, request_iterator, context):
        """The full picture, then every update and a heartbeat every quarter of the stream timeout; the gate's
        acknowledgements arrive on the request side (``_read_acknowledgements``). The stream ends cleanly at
        shutdown, and with ABORTED when the gate is cut off."""
        state = self.state
        link = state.connect_gate(context.peer())
        acks = asyncio.create_task(self._read_acknowledgements(request_iterator, link))
        try:
            yield state.full_update()
            while True:
                interval = state.limits.gate_stream_timeout_ms / 4e3
                try:
                    async with asyncio.timeout(interval):
                        update = await link.queue.get()
                except TimeoutError:
                    yield risk_pb2.GateUpdate(heartbeat=True, sent_ns=state.clock.now_ns())
                    continue
                if update is None:
                    if link.cut_reason:
                        await context.abort(grpc.StatusCode.ABORTED, link.cut_reason)
                    return
                yield update
        finally:
            acks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acks
            state.disconnect_gate(link)

    async def _read_acknowledgements(self, request_iterator, link: GateLink) -> None:
        """The gate's side: its name first, then the highest seq it has applied, cumulatively."""
        try:
            async for message in request_iterator:
                if message.gate_id:
                    link.name_from(message.gate_id)
                if message.ack_seq and not link.acknowledge(message.ack_seq):
                    self.state.cut_off(link, f"acknowledged update {message.ack_seq}, which this stream was never sent")
                    return
        except (grpc.RpcError, grpc.aio.UsageError) as exc:
            log.debug("risk: gate %s: acknowledgements ended: %s", link.name, exc)
        finally:
            link.acks_ended()

    async def StreamChanges(self, request, context):
        """The change journal from ``from_seq``, gap-free: history in chunks, then each change once stored."""
        if request.from_seq > MAX_SEQ:  # found by fuzzing: it answered UNKNOWN
            await abort(context, invalid("from_seq", f"must be at most {MAX_SEQ}"))
        state = self.state
        store = state.store
        wake = asyncio.Event()
        waiter = (asyncio.get_running_loop(), wake)
        state.journal_waiters.add(waiter)  # before reading, so a change stored meanwhile is never missed
        seq = max(1, request.from_seq)
        try:
            incarnation = await asyncio.to_thread(store.incarnation)
            last = await asyncio.to_thread(store.last_id)
            yield risk_pb2.RiskChanges(incarnation=incarnation, last_seq=last)
            while not state.streams_ended:
                wake.clear()
                rows = await asyncio.to_thread(store.since, seq, limit=CHANGES_CHUNK)
                if rows:
                    yield risk_pb2.RiskChanges(
                        incarnation=incarnation,
                        changes=[
                            risk_pb2.RiskChangeRecord(
                                seq=r.id,
                                ts_ns=r.ts_ns,
                                type=str(r.change.get("type", "")),
                                actor=r.actor,
                                reason=r.reason,
                                scope=r.scope,
                                change_json=r.change_json,
                            )
                            for r in rows
                        ],
                    )
                    seq = rows[-1].id + 1
                    if len(rows) == CHANGES_CHUNK:
                        continue
                try:
                    async with asyncio.timeout(CHANGES_RECHECK_S):
                        await wake.wait()
                except TimeoutError:
                    pass
        except OperationalError:  # the change journal lives in the database: down or unreachable now
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"the risk change journal's database cannot be read now; reconnect with from_seq={seq}",
            )
        finally:
            state.journal_waiters.discard(waiter)

    async def StreamRiskEvents(self, request, context):
        state = self.state
        queue: asyncio.Queue[risk_pb2.RiskEvent | None] = asyncio.Queue(EVENT_QUEUE_BOUND)
        state.listeners.add(queue)
        wanted = not request.exclude_warnings
        try:
            last = 0
            if request.from_seq:
                for event in list(state.events):
                    if event.seq >= request.from_seq and (wanted or event.kind not in QUIET_KINDS):
                        last = event.seq
                        yield event
            while True:
                event = await queue.get()
                if event is None:
                    return
                if event.seq <= last or (not wanted and event.kind in QUIET_KINDS):
                    continue
                yield event
        finally:
            state.listeners.discard(queue)

    # -- the real-time monitor --------------------------------------------------------------------------------------
    async def GetRiskSnapshot(self, request, context):
        try:
            scope = self._scope(request)
        except Reject as reject:
            await abort(context, reject)
        return self.snapshot(scope)

    def snapshot(self, scope: ScopeKey) -> risk_pb2.RiskSnapshot:
        now = self.state.clock.now_ns()
        rt = self.monitor
        realized, unrealized = rt.pnl(scope)
        daily, peak, drawdown = rt.daily(scope, now)
        exp = rt.exposure(scope)
        var, es, n = rt.var_es(scope)
        return risk_pb2.RiskSnapshot(
            scope=scope_proto(scope),
            realized_pnl=format_pnl(realized),
            unrealized_pnl=format_pnl(unrealized),
            daily_pnl=format_pnl(daily),
            peak_daily_pnl=format_pnl(peak),
            drawdown=format_pnl(drawdown),
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
            var_confidence_pct=self.state.limits.var.confidence_pct,
            state=int(self.state.state_of(scope).state),
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
            if request.horizon_seconds < 0 or request.horizon_seconds > MAX_HORIZON_S:
                raise invalid("horizon_seconds", f"must be between 0 and {MAX_HORIZON_S}")
            out = self.monitor.position_size(request.symbol, budget=budget, horizon_s=request.horizon_seconds or 23_400)
            if not out["price"]:
                raise not_found(f"no mark for {request.symbol} yet: market data has not arrived")
            if out["samples"] < 2:
                raise refused(f"not enough returns of {request.symbol} yet to estimate volatility", "NO_HISTORY")
        except Reject as reject:
            await abort(context, reject)
        return risk_pb2.SuggestPositionSizeResponse(
            quantity=format_fixed(out["quantity"]),
            volatility=out["volatility"],
            horizon_volatility=out["horizon_volatility"],
            price=format_fixed(out["price"]),
            samples=out["samples"],
        )

    def _scope(self, request) -> ScopeKey:
        return self.state.parse_scope(request.scope.account, request.scope.strategy)


def _applied(scope: ScopeKey, entry: StateEntry, delivery: Delivery) -> risk_pb2.TradingStateInfo:
    """The new state, with which gates applied it before the answer."""
    info = state_to_proto(scope, entry)
    info.delivery.CopyFrom(delivery.to_proto())
    return info


def _answer_by(context) -> float | None:
    """The event loop's time by which the caller needs the answer (its gRPC deadline), or None without one."""
    remaining = context.time_remaining()
    return None if remaining is None else asyncio.get_running_loop().time() + remaining
