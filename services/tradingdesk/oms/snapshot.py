"""What recovery rebuilds, as one object graph: captured at a journal seq, put back in place of a replay.

A snapshot is an optimisation; the journal stays the truth. ``capture`` takes the state that replaying records
1..seq builds (the parts the fan-out's replayed handlers fill: the order book, the positions, the gate's
exposure, its self-match book and the latches the journal holds, and what a service adds of its own) and
``restore`` puts such a state into a fresh engine, so that replaying the records after ``seq`` gives the state a
full replay would. What only the live path builds (message-flow counts, the
repeated-execution counts, market references) is neither captured nor replayed: a restart starts it afresh
either way.

``restore`` updates the engine's objects in place (their attributes from the captured ones), so every handler
already subscribed to the fan-out, and every view of the engine, keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tradingdesk.core.events import RiskLatched
from tradingdesk.risk.scope import ScopeKey

if TYPE_CHECKING:
    from tradingdesk.oms.engine import OrderEngine


class JournaledLatches:
    """The fan-out's handler (live and replayed): the newest repeated-execution latch of each scope the journal
    holds. The gate's own ``latches`` also hold latches the risk service sent and lose released ones; a replay
    only ever re-applies the journaled ones, so that is what a snapshot carries."""

    def __init__(self) -> None:
        self.latest: dict[ScopeKey, tuple[int, str]] = {}

    def __call__(self, event: object) -> None:
        if type(event) is RiskLatched:
            scope = (event.account, event.strategy)
            current = self.latest.get(scope)
            if current is None or current[0] < event.tripped_ns:
                self.latest[scope] = (event.tripped_ns, event.reason)


@dataclass
class EngineState:
    """The state records 1..``seq`` built; ``extra`` holds what the service's own replayed handlers built."""

    seq: int
    parts: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


def _parts(engine: OrderEngine) -> dict[str, Any]:
    gate = engine.gate
    parts: dict[str, Any] = {
        "book": engine.book,
        "positions": engine.positions,
        "exposure": gate.exposure,
        "journaled_latches": engine.journaled_latches,
    }
    if gate.self_match is not None:
        parts["self_match"] = gate.self_match
    return parts


def capture(engine: OrderEngine, *, seq: int, extra: dict[str, Any] | None = None) -> EngineState:
    """The engine's recoverable state as it is now: the objects themselves, not copies. Serialize the result
    before the engine moves on (``pickle.dumps`` on the engine's thread), since the next event changes them."""
    return EngineState(seq=seq, parts=_parts(engine), extra=dict(extra or {}))


def restore(engine: OrderEngine, state: EngineState) -> None:
    """Put a captured state into a fresh engine (nothing replayed into it yet). Its open orders are then
    ``unseated``, as after ``rebuild``. Raises ``ValueError`` when the state does not fit this engine (a part
    missing or extra), leaving the engine as it was."""
    targets = _parts(engine)
    captured = dict(state.parts)
    if set(captured) != set(targets):
        raise ValueError(f"the snapshot holds {sorted(state.parts)}, this engine needs {sorted(targets)}")
    for name, target in targets.items():
        if type(captured[name]) is not type(target):
            raise ValueError(f"the snapshot's {name} is a {type(captured[name]).__name__}")
    sectors = engine.gate.exposure.sectors
    finished_kept = engine.book.finished_kept
    for name, target in targets.items():
        vars(target).update(vars(captured[name]))
    engine.gate.exposure.sectors = sectors  # the live instruments' (equal: the snapshot's config key says so)
    engine.book.finished_kept = finished_kept  # this process's setting: the next order finished applies it
    engine.gate.forget_rules()  # its cached scope rules point at the books it had before
    for scope, (tripped_ns, why) in engine.journaled_latches.latest.items():
        engine.gate.latch(scope, tripped_ns, why)
    engine.unseated = set(engine.book.open_orders)
