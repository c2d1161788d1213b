"""The risk service: owner of limits and trading states, and the stream that keeps every gate current."""

from __future__ import annotations

import asyncio
import contextlib
import json

import grpc

from tradingdesk.core.clock import Clock, WallClock
from tradingdesk.core.enums import TradingState
from tradingdesk.oms.errors import RequestError, invalid
from tradingdesk.oms.requests import check_id
from tradingdesk.risk.convert import limits_to_proto, state_to_proto
from tradingdesk.risk.limits import DESK_SCOPE, SPEC_STATES, Limits, ScopeKey, StateEntry
from tradingdesk.spec.domain import dsn_for
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.db import make_engine, migrate
from tradingdesk.storage.risk_store import RiskChangeStore
from tradingdesk.v1 import risk_pb2, risk_pb2_grpc

SPEC_ACTOR = "spec"
GATE_QUEUE_BOUND = 10_000


def scope_name(scope: ScopeKey) -> str:
    return "/".join(part for part in scope if part) or "desk"


class RiskService(risk_pb2_grpc.RiskServiceServicer):
    name = "risk"
    service_names = ("tradingdesk.v1.RiskService",)

    def __init__(self, desk: TradingDesk, *, clock: Clock | None = None, dsn: str | None = None) -> None:
        self.desk = desk
        self.clock = clock or WallClock()
        self.accounts = {a.name: frozenset(a.strategies) for a in desk.spec.accounts}
        self.limits = Limits.from_spec(desk.spec.risk)
        self.states: dict[ScopeKey, StateEntry] = {DESK_SCOPE: StateEntry(TradingState.ACTIVE)}
        self.db = make_engine(dsn or dsn_for(desk, "risk"))
        self.store = RiskChangeStore(self.db)
        self.gates: set[asyncio.Queue[risk_pb2.GateUpdate]] = set()

    async def start(self, server: grpc.aio.Server) -> None:
        await asyncio.to_thread(migrate, self.db)
        await asyncio.to_thread(self._restore)
        risk_pb2_grpc.add_RiskServiceServicer_to_server(self, server)

    def _restore(self) -> None:
        """Journaled states survive restarts; the spec's state wins only when the spec itself changed."""
        last_spec_state = None
        for change in reversed(self.store.history(limit=100_000)):
            c = change.change
            if c.get("type") != "trading_state":
                continue
            scope = (c.get("account", ""), c.get("strategy", ""))
            self.states[scope] = StateEntry(TradingState[c["state"]], change.actor, change.reason, change.ts_ns)
            if change.actor == SPEC_ACTOR and scope == DESK_SCOPE:
                last_spec_state = c["state"]
        spec_state = SPEC_STATES[self.desk.spec.trading_state]
        if last_spec_state != spec_state.name:
            self._record_state(
                DESK_SCOPE, spec_state, SPEC_ACTOR, f"spec.tradingState is {self.desk.spec.trading_state}"
            )

    def _record_state(self, scope: ScopeKey, state: TradingState, actor: str, reason: str) -> StateEntry:
        now = self.clock.now_ns()
        change = {"type": "trading_state", "account": scope[0], "strategy": scope[1], "state": state.name}
        self.store.record(now, actor, reason, scope_name(scope), change)
        entry = StateEntry(state, actor, reason, now)
        self.states[scope] = entry
        return entry

    def _broadcast(self, update: risk_pb2.GateUpdate) -> None:
        for queue in tuple(self.gates):
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:
                self.gates.discard(queue)  # that gate reconnects and gets a full picture

    def full_update(self) -> risk_pb2.GateUpdate:
        return risk_pb2.GateUpdate(
            limits=limits_to_proto(self.limits),
            states=[state_to_proto(s, e) for s, e in self.states.items()],
            full=True,
        )

    # -- RPCs ------------------------------------------------------------------------------------------------
    def _scope(self, msg) -> ScopeKey:
        account, strategy = msg.account, msg.strategy
        if strategy and not account:
            raise invalid("scope.strategy", "needs scope.account")
        if account:
            check_id("scope.account", account)
            if account not in self.accounts:
                raise invalid("scope.account", f"{account!r} is not an account of this desk")
        if strategy:
            check_id("scope.strategy", strategy)
        return account, strategy

    async def GetLimits(self, request, context):
        return limits_to_proto(self.limits)

    async def GetTradingState(self, request, context):
        try:
            scope = self._scope(request.scope)
        except RequestError as err:
            await context.abort(err.code, err.message)
        return state_to_proto(scope, self.states.get(scope, StateEntry(TradingState.ACTIVE)))

    async def SetTradingState(self, request, context):
        try:
            scope = self._scope(request.scope)
            if request.state not in (TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED):
                raise invalid("state", "must be ACTIVE, REDUCING or HALTED")
            if not request.actor.strip():
                raise invalid("actor", "is required: who is changing the trading state")
            if not request.reason.strip():
                raise invalid("reason", "is required: why the trading state changes")
            if len(request.actor) > 128 or len(request.reason) > 1024:
                raise invalid("reason", "actor must be <= 128 and reason <= 1024 characters")
        except RequestError as err:
            await context.abort(err.code, err.message)
        entry = await asyncio.to_thread(
            self._record_state, scope, TradingState(request.state), request.actor.strip(), request.reason.strip()
        )
        self._broadcast(risk_pb2.GateUpdate(states=[state_to_proto(scope, entry)]))
        return state_to_proto(scope, entry)

    async def StreamGateUpdates(self, request, context):
        queue: asyncio.Queue[risk_pb2.GateUpdate | None] = asyncio.Queue(GATE_QUEUE_BOUND)
        self.gates.add(queue)
        try:
            yield self.full_update()
            while queue in self.gates or not queue.empty():
                update = await queue.get()
                if update is None:
                    return
                yield update
        finally:
            self.gates.discard(queue)

    async def drain(self) -> None:
        """End the gate streams at shutdown; gates reconnect to the next risk instance by themselves."""
        for queue in tuple(self.gates):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self.gates.clear()

    async def stop(self) -> None:
        self.db.dispose()


def describe_change(change: dict) -> str:
    return json.dumps(change, sort_keys=True)
