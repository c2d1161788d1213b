"""The risk service's state: limits, trading states, kills and latch releases, journaled and broadcast.

Both doors (the gRPC servicer and the HTTP kill switch) change the desk through this one object, so the
journal, the gates and the event listeners cannot tell them apart except by the ``door`` recorded with the
change. Every change is journaled (``RiskChangeStore``, as typed ``RiskChange`` events through the codec)
before any gate hears of it: a gate must never hold a state the risk service could forget in a crash. A
trading-state change returns only once every connected gate has acknowledged applying it, or the gates that
did not in time are cut off (``delivery.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import threading
import uuid
from collections import deque
from functools import partial

from google.protobuf.json_format import MessageToDict, ParseDict

from tradingdesk.core.clock import Clock
from tradingdesk.core.enums import TradingState
from tradingdesk.core.event_codec import decode_change, encode_change
from tradingdesk.core.events import (
    AccessDecision,
    BreachHalted,
    ChangeAccess,
    ChangeRefused,
    LatchReleased,
    LimitsChanged,
    Refusal,
    RiskChange,
    TradingStateChanged,
)
from tradingdesk.core.ids import check_id
from tradingdesk.core.reject import JOURNAL_UNAVAILABLE, invalid, refused, unavailable
from tradingdesk.risk.delivery import Delivery, GateLink, await_acknowledgements
from tradingdesk.risk.held_back import HeldBackFile
from tradingdesk.risk.limits import SPEC_STATES, Limits, StateEntry
from tradingdesk.risk.monitor import DAY_NS, RealTimeRisk
from tradingdesk.risk.scope import DESK_SCOPE, ScopeKey, scope_label
from tradingdesk.risk.wire import limits_from_proto, limits_to_proto, scope_proto, state_to_proto
from tradingdesk.spec.model import TradingDesk
from tradingdesk.storage.risk_store import ChangeJournalUnavailable, RiskChangeStore
from tradingdesk.v1 import risk_pb2

log = logging.getLogger(__name__)

SPEC_ACTOR = "spec"
EVENTS_RETAINED = 2_000
MAX_ACTOR = 128
MAX_REASON = 1024
QUIET_KINDS = (risk_pb2.RISK_EVENT_KIND_WARNING, risk_pb2.RISK_EVENT_KIND_RECOVERED)
GATE_QUEUE_BOUND = 10_000


def spec_hash(desk: TradingDesk) -> str:
    """Fingerprint of the spec's limits (not of where the HTTP door listens)."""
    text = desk.spec.risk.model_dump_json(by_alias=True, exclude={"http_port"})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class RiskState:
    def __init__(
        self,
        desk: TradingDesk,
        *,
        clock: Clock,
        store: RiskChangeStore,
        monitor: RealTimeRisk,
        accounts: dict[str, frozenset[str]],
        held_back_file: HeldBackFile | None = None,
    ) -> None:
        """``held_back_file``: where halts held back during a database outage are kept until journaled
        (``risk/held_back.py``); None keeps them in memory only."""
        self.desk = desk
        self.clock = clock
        self.store = store
        self.monitor = monitor
        self.accounts = accounts
        self.limits = monitor.limits
        self.states: dict[ScopeKey, StateEntry] = {DESK_SCOPE: StateEntry(TradingState.ACTIVE)}
        self.releases: dict[ScopeKey, tuple[int, str, str]] = {}  # scope -> (released at, actor, reason)
        self.kills: dict[ScopeKey, risk_pb2.KillOrder] = {}  # the last kill of each scope
        self.gates: set[GateLink] = set()
        self.update_seq = 0  # the seq of the last update sent to the gates
        self.listeners: set[asyncio.Queue[risk_pb2.RiskEvent | None]] = set()
        self.events: deque[risk_pb2.RiskEvent] = deque(maxlen=EVENTS_RETAINED)
        self._event_seq = 0
        self.lock = asyncio.Lock()
        self.journal_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        """Readers of the change journal (``StreamChanges``), woken after every change is stored."""
        self.streams_ended = False
        self.held_back: list[RiskChange] = []
        """Halts applied while the change journal's database did not answer, oldest first, to be journaled (with
        their own times) before any later change: ``record(..., hold_if_unavailable=True)``."""
        self.held_back_file = held_back_file
        self._journal_order = threading.Lock()  # held back changes go first: one writer of the journal at a time

    # -- restore ----------------------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Journaled states, limits and releases survive restarts; the spec's state and limits win only when the
        spec itself changed since they were recorded."""
        last_spec_state = None
        last_limits: LimitsChanged | None = None
        today = self.clock.now_ns() // DAY_NS
        for stored in reversed(self.store.history(limit=1_000_000)):
            change = decode_change(ts_ns=stored.ts_ns, actor=stored.actor, reason=stored.reason, change=stored.change)
            scope = (change.account, change.strategy)
            if isinstance(change, TradingStateChanged):
                self.states[scope] = StateEntry(change.state, change.actor, change.reason, change.ts_ns)
                if change.actor == SPEC_ACTOR and scope == DESK_SCOPE:
                    last_spec_state = change.state
                if change.kill_id:
                    self.kills[scope] = self._kill_order(scope, change)
            elif isinstance(change, LimitsChanged):
                last_limits = change
            elif isinstance(change, LatchReleased):
                self.releases[scope] = (change.ts_ns, change.actor, change.reason)
            elif isinstance(change, BreachHalted) and change.ts_ns // DAY_NS == today:
                self.monitor.mark_tripped(scope, change.metric, today)
        current = spec_hash(self.desk)
        if last_limits is not None and last_limits.spec_hash == current:
            self.set_limits(limits_from_proto(ParseDict(last_limits.limits, risk_pb2.RiskLimits())))
        elif last_limits is not None:
            self.set_limits(Limits.from_spec(self.desk.spec.risk, version=last_limits.version + 1))
            self.record_limits(SPEC_ACTOR, "spec.risk changed", door="spec")
        spec_state = SPEC_STATES[self.desk.spec.trading_state]
        if last_spec_state != spec_state:
            self._record_state(
                DESK_SCOPE, spec_state, SPEC_ACTOR, f"spec.tradingState is {self.desk.spec.trading_state}", door="spec"
            )

    # -- journal ----------------------------------------------------------------------------------------------------
    def record(self, change: RiskChange, *, hold_if_unavailable: bool = False) -> None:
        """Store one change durably (blocking: call from a thread on the event loop's behalf), after every change
        held back before it, then wake the readers of the change journal. When the database does not answer, a
        change is refused (``unavailable``, JOURNAL_UNAVAILABLE), unless ``hold_if_unavailable``: a halt, which only
        makes trading safer, is then applied at once rather than refused, kept in memory and in the held-back
        file, and journaled when the database answers (``write_held_back``), or by the next risk process if this
        one crashes first (``journal_left_behind``)."""
        with self._journal_order:
            try:
                self._write_held_back()
                self._write(change)
            except ChangeJournalUnavailable as exc:
                if not hold_if_unavailable:
                    message = f"{exc}; nothing was changed, retry when it answers"
                    raise unavailable(message, JOURNAL_UNAVAILABLE) from exc
                self._keep_on_disk(change)
                self.held_back.append(change)
                log.warning(
                    "risk: %s; the halt of %s (%s, by %s) applies now and is journaled when it answers "
                    "(%d change(s) held back)",
                    exc,
                    scope_label((change.account, change.strategy)),
                    change.reason,
                    change.actor,
                    len(self.held_back),
                )
                return
        self._wake_journal_readers()

    def write_held_back(self) -> int:
        """Journal the changes held back while the database did not answer, in order (blocking); how many were
        written. ``ChangeJournalUnavailable`` while it still does not answer."""
        with self._journal_order:
            written = self._write_held_back()
        if written:
            self._wake_journal_readers()
        return written

    def _write_held_back(self) -> int:
        written = 0
        while self.held_back:
            self._write(self.held_back[0])
            self.held_back.pop(0)
            written += 1
        if written:
            log.warning("risk: %d change(s) held back while the database did not answer are journaled now", written)
            if self.held_back_file is not None:
                self.held_back_file.clear()
        return written

    def _keep_on_disk(self, change: RiskChange) -> None:
        """A held-back halt into the held-back file before it is answered. A disk that refuses it does not stop
        the halt (it applies; only a crash before the database answers would forget it), but it is logged."""
        if self.held_back_file is None:
            return
        try:
            self.held_back_file.append(change)
        except OSError as exc:
            log.error(
                "risk: the halt of %s is held in memory only: %s could not be written (%s); a crash of risk "
                "before the database answers would forget it",
                scope_label((change.account, change.strategy)),
                self.held_back_file.path,
                exc,
            )

    def journal_left_behind(self) -> int:
        """Journal the halts a risk process held back and did not journal before it ended (it crashed during a
        database outage), with their own times, before this one restores its state from the journal; how many.
        One the journal already holds (the crash came between its write and the file's emptying) is not written
        again. Raises ``ChangeJournalUnavailable`` while the database does not answer (the file is kept)."""
        if self.held_back_file is None:
            return 0
        left = self.held_back_file.read()
        if not left:
            return 0
        with self._journal_order:
            stored = {_identity(c.ts_ns, c.actor, c.reason, c.change) for c in self.store.history(limit=10_000)}
            missing = [c for c in left if _identity(c.ts_ns, c.actor, c.reason, encode_change(c)) not in stored]
            for change in missing:
                self._write(change)
            self.held_back_file.clear()
        for change in missing:
            log.warning(
                "risk: the halt of %s (%s, by %s) a previous risk process held back during a database outage is "
                "journaled now",
                scope_label((change.account, change.strategy)),
                change.reason,
                change.actor,
            )
        if missing:
            self._wake_journal_readers()
        return len(missing)

    def _write(self, change: RiskChange) -> None:
        self.store.record(
            change.ts_ns,
            change.actor,
            change.reason,
            scope_label((change.account, change.strategy)),
            encode_change(change),
        )

    def _wake_journal_readers(self) -> None:
        for loop, event in tuple(self.journal_waiters):
            with contextlib.suppress(RuntimeError):  # that reader's loop is closed: it is gone
                loop.call_soon_threadsafe(event.set)

    async def record_refusal(self, refusal: Refusal, *, actor: str, reason: str, scope: ScopeKey = DESK_SCOPE) -> None:
        """Journal a refused request (before it is answered): who asked, what, and why it was refused."""
        change = ChangeRefused(
            ts_ns=self.clock.now_ns(),
            actor=actor.strip()[:MAX_ACTOR],
            reason=reason.strip()[:MAX_REASON],
            account=scope[0],
            strategy=scope[1],
            refusal=refusal,
        )
        await asyncio.to_thread(self.record, change)

    async def record_access(self, decisions: list[AccessDecision]) -> None:
        """Journal access decisions about calls to the risk service (``audit.access``)."""

        def write() -> None:
            for d in decisions:
                self.record(
                    ChangeAccess(ts_ns=d.ts_ns, actor=d.identity[:MAX_ACTOR], reason=d.detail[:MAX_REASON], decision=d)
                )

        await asyncio.to_thread(write)

    def _record_state(
        self,
        scope: ScopeKey,
        state: TradingState,
        actor: str,
        reason: str,
        *,
        kill_id: str = "",
        flatten: bool = False,
        door: str = "",
    ) -> StateEntry:
        now = self.clock.now_ns()
        self.record(
            TradingStateChanged(
                ts_ns=now,
                actor=actor,
                reason=reason,
                account=scope[0],
                strategy=scope[1],
                state=state,
                kill_id=kill_id,
                flatten=flatten,
                door=door,
            ),
            hold_if_unavailable=state == TradingState.HALTED,
        )
        entry = StateEntry(state, actor, reason, now)
        self.states[scope] = entry
        return entry

    def set_limits(self, limits: Limits) -> None:
        self.limits = limits
        self.monitor.limits = limits

    def record_limits(self, actor: str, reason: str, *, door: str) -> None:
        self.record(
            LimitsChanged(
                ts_ns=self.clock.now_ns(),
                actor=actor,
                reason=reason,
                version=self.limits.version,
                spec_hash=spec_hash(self.desk),
                limits=MessageToDict(limits_to_proto(self.limits), preserving_proto_field_name=True),
                door=door,
            )
        )

    # -- telling gates and listeners -----------------------------------------------------------------------------------
    def connect_gate(self, peer: str) -> GateLink:
        """A gate opened ``StreamGateUpdates``: from now on it is sent every update (and counted by each change)."""
        link = GateLink(peer, asyncio.Queue(GATE_QUEUE_BOUND), sent_seq=self.update_seq)
        self.gates.add(link)
        return link

    def disconnect_gate(self, link: GateLink) -> None:
        self.gates.discard(link)
        link.acks_ended()

    def broadcast(self, update: risk_pb2.GateUpdate) -> tuple[int, list[GateLink]]:
        """Number the update and queue it for every gate; returns its seq and the gates it went to."""
        self.update_seq += 1
        update.seq = self.update_seq
        update.sent_ns = self.clock.now_ns()
        sent = []
        for link in tuple(self.gates):
            if link.send(update):
                sent.append(link)
            else:
                self.cut_off(link, f"fell {link.queue.maxsize} updates behind")
        return update.seq, sent

    def cut_off(self, link: GateLink, reason: str) -> None:
        """End a gate's stream with ABORTED: it fails closed until it reconnects and has the full picture."""
        self.gates.discard(link)
        if link.cut_reason:
            return
        link.cut(f"cut off by the risk service: {reason}")
        log.warning("risk: gate %s cut off: %s", link.name, reason)
        self.emit(
            risk_pb2.RISK_EVENT_KIND_GATE_CUT_OFF,
            DESK_SCOPE,
            f"gate {link.name} cut off: {reason}; it refuses new orders until it has reconnected",
        )

    async def confirm(self, seq: int, links: list[GateLink], *, timeout_s: float) -> Delivery:
        """Wait until every gate in ``links`` has acknowledged update ``seq``, for at most ``timeout_s``; cut off
        the gates that have not."""
        applied, missing = await await_acknowledgements(links, seq, timeout_s=timeout_s)
        for link in missing:
            if link.ended:
                self.cut_off(link, f"its stream ended before it acknowledged update {seq}")
            else:
                self.cut_off(link, f"did not acknowledge update {seq} within {round(timeout_s * 1000)} ms")
        return Delivery(
            gates=len(links),
            applied=len(applied),
            cut_off=tuple(link.name for link in missing),
            deadline_ms=round(timeout_s * 1000),
        )

    def ack_timeout_s(self, answer_by: float | None = None) -> float:
        """How long a change waits for the gates, from now: ``gate_stream_timeout_ms`` (a gate silent that long
        fails closed by itself anyway), or 90% of what is left until ``answer_by`` (the event loop's time by which
        the caller needs the answer: its gRPC deadline) if that is sooner, so that the answer still reaches it."""
        bound = self.limits.gate_stream_timeout_ms / 1000
        if answer_by is None:
            return bound
        return max(0.0, min(bound, (answer_by - asyncio.get_running_loop().time()) * 0.9))

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
            seq=self.update_seq,
            kills=kills,
            latches=[
                risk_pb2.LatchInfo(scope=scope_proto(s), control="repeated_execution", reason=why, changed_ns=ts)
                for s, (ts, why) in self.monitor.latches.items()
            ],
            released=[
                risk_pb2.LatchInfo(scope=scope_proto(s), changed_ns=ts, actor=actor, reason=reason)
                for s, (ts, actor, reason) in self.releases.items()
            ],
            sent_ns=self.clock.now_ns(),
        )

    def emit(
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
        """Publish a risk event to every listener (and keep it for ``StreamRiskEvents(from_seq)``)."""
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
        level = logging.INFO if kind in QUIET_KINDS else logging.WARNING
        log.log(level, "risk event %s: %s", risk_pb2.RiskEventKind.Name(kind), message)
        for queue in tuple(self.listeners):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self.listeners.discard(queue)
        return event

    def end_streams(self) -> None:
        """At shutdown: gates and listeners see the end and reconnect to the next risk instance by themselves."""
        for link in self.gates:
            link.end()
        for queue in self.listeners:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self.gates.clear()
        self.listeners.clear()
        self.streams_ended = True
        for _loop, event in tuple(self.journal_waiters):
            event.set()

    # -- changes, whichever door they come through ---------------------------------------------------------------
    async def change_state(
        self,
        scope: ScopeKey,
        state: TradingState,
        actor: str,
        reason: str,
        *,
        door: str,
        kill_id: str = "",
        flatten: bool = False,
        answer_by: float | None = None,
    ) -> tuple[StateEntry, Delivery]:
        """Journal a state change, tell every gate and listener, and return once every gate has applied it (or
        was cut off for not acknowledging within ``ack_timeout_s(answer_by)``). Journal first: a gate must never
        hold a state the risk service could forget in a crash (its next full update would undo it)."""
        async with self.lock:
            entry = await asyncio.to_thread(
                self._record_state, scope, state, actor, reason, kill_id=kill_id, flatten=flatten, door=door
            )
            update = risk_pb2.GateUpdate(states=[state_to_proto(scope, entry)])
            if kill_id:
                kill = risk_pb2.KillOrder(
                    kill_id=kill_id,
                    scope=scope_proto(scope),
                    flatten=flatten,
                    actor=actor,
                    reason=reason,
                    changed_ns=entry.changed_ns,
                )
                self.kills[scope] = kill
                update.kills.append(kill)
            seq, links = self.broadcast(update)
        self.emit(
            risk_pb2.RISK_EVENT_KIND_STATE_CHANGE,
            scope,
            f"{scope_label(scope)} is {state.name} ({reason}, by {actor})",
            actor=actor,
            state=state,
        )
        return entry, await self.confirm(seq, links, timeout_s=self.ack_timeout_s(answer_by))

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
        self,
        scope: ScopeKey,
        actor: str,
        reason: str,
        *,
        flatten: bool = False,
        door: str = "grpc",
        answer_by: float | None = None,
    ) -> tuple[str, StateEntry, Delivery]:
        """The kill switch, whichever door it came through: HALTED, journaled with who and why, and applied by
        every gate (or the gate cut off), which mass-cancels the scope's open orders (and flattens if asked)."""
        actor, reason = self.person(actor, reason)
        kill_id = f"K{uuid.uuid4().hex[:12]}"
        entry, delivery = await self.change_state(
            scope,
            TradingState.HALTED,
            actor,
            reason,
            kill_id=kill_id,
            flatten=flatten,
            door=door,
            answer_by=answer_by,
        )
        self.emit(
            risk_pb2.RISK_EVENT_KIND_KILL,
            scope,
            f"kill switch {kill_id} pulled for {scope_label(scope)} by {actor} via {door}: {reason}"
            + (" (flatten)" if flatten else "")
            + f"; applied by {delivery.applied} of {delivery.gates} gate(s)"
            + (f", {len(delivery.cut_off)} cut off" if delivery.cut_off else ""),
            actor=actor,
            state=TradingState.HALTED,
        )
        return kill_id, entry, delivery

    async def resume(
        self, scope: ScopeKey, actor: str, reason: str, *, door: str = "grpc", answer_by: float | None = None
    ) -> tuple[StateEntry, Delivery]:
        actor, reason = self.person(actor, reason)
        current = self.states.get(scope)
        if current is None or current.state == TradingState.ACTIVE:
            raise refused(f"{scope_label(scope)} is already ACTIVE: nothing to resume", "NOT_HALTED")
        return await self.change_state(scope, TradingState.ACTIVE, actor, reason, door=door, answer_by=answer_by)

    async def release_latch(self, scope: ScopeKey, actor: str, reason: str, *, door: str) -> bool:
        """A person re-enables a scope the repeated-execution throttle latched off; True if one was latched."""
        now = self.clock.now_ns()
        released = self.monitor.latches.pop(scope, None) is not None
        change = LatchReleased(ts_ns=now, actor=actor, reason=reason, account=scope[0], strategy=scope[1], door=door)
        await asyncio.to_thread(self.record, change)
        self.releases[scope] = (now, actor, reason)
        self.broadcast(
            risk_pb2.GateUpdate(
                released=[risk_pb2.LatchInfo(scope=scope_proto(scope), changed_ns=now, actor=actor, reason=reason)]
            )
        )
        self.emit(
            risk_pb2.RISK_EVENT_KIND_LATCH,
            scope,
            f"{scope_label(scope)} re-enabled by {actor}: {reason}",
            metric="repeated_execution",
            actor=actor,
        )
        return released

    async def halt_for_breach(self, scope: ScopeKey, metric: str, message: str) -> None:
        """A breach that halts: journaled as such (so a restart today does not halt again), then HALTED."""
        actor = f"risk:{metric}"
        change = BreachHalted(
            ts_ns=self.clock.now_ns(), actor=actor, reason=message, account=scope[0], strategy=scope[1], metric=metric
        )
        await asyncio.to_thread(partial(self.record, change, hold_if_unavailable=True))
        await self.change_state(scope, TradingState.HALTED, actor, message, door="risk")

    def state_of(self, scope: ScopeKey) -> StateEntry:
        return self.states.get(scope, StateEntry(TradingState.ACTIVE))

    @staticmethod
    def _kill_order(scope: ScopeKey, change: TradingStateChanged) -> risk_pb2.KillOrder:
        return risk_pb2.KillOrder(
            kill_id=change.kill_id,
            scope=scope_proto(scope),
            flatten=change.flatten,
            actor=change.actor,
            reason=change.reason,
            changed_ns=change.ts_ns,
        )


def _identity(ts_ns: int, actor: str, reason: str, change: dict) -> tuple[int, str, str, str]:
    """A stored risk change as a comparable value: its time, who, why and what, in one canonical form."""
    return ts_ns, actor, reason, json.dumps(change, sort_keys=True)
