"""When a desk's status is written: a change that only moves counters waits (``COUNTER_HOLD_S`` at most) and goes
out with the next write; a real change goes out at once, carrying the counters held so far. Without the hold,
each of these counter changes was a status PATCH of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kopf._core.engines import posting

from deskoperator import worker as worker_module
from deskoperator.config import Config
from deskoperator.state import DeskState
from deskoperator.status import Observed
from deskoperator.worker import DeskWorker
from tests.operator.helpers import example_document
from tests.waiting import wait_for
from tradingdesk.spec.load import parse_desk
from tradingdesk.spec.model import SERVICE_NAMES


class StatusWrites:
    """The API client as far as ``publish`` uses it: every status PATCH, in order."""

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    def patch_status(self, kind: str, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        self.patches.append(status)
        return {"status": status}


def starting(service: str, *, ready: int = 0, updated: int = 0) -> Observed:
    return Observed(1, 1, 1, ready, updated, "", "ReplicaSetUpdated")


async def test_counters_wait_for_the_next_write_and_real_changes_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "COUNTER_HOLD_S", 0.2)  # the flush is awaited as a state, never timed
    posting.event_queue_var.set(asyncio.Queue())  # kopf's Event queue, as inside a handler
    observed = {s: starting(s) for s in SERVICE_NAMES}
    kube = StatusWrites()
    st = DeskState("ns", "d", uid="uid-1", generation=1)
    st.desk = parse_desk(example_document())
    st.reconciled_generation = st.handled_generation = 1
    st.replicas = {s: 1 for s in SERVICE_NAMES}
    st.trading.want, st.trading.attempts, st.trading.error = "Active", 1, "UNAVAILABLE: no such host"
    worker = DeskWorker(st, cfg=Config(), kube=kube, views=lambda ns, name: (dict(observed), {}, {}))  # type: ignore[arg-type]
    try:
        await asyncio.to_thread(worker.publish)
        assert len(kube.patches) == 1  # the first status: written at once

        observed["feeds"] = starting("feeds", updated=1)  # a pod created, not ready: a counter
        st.trading.attempts = 2  # a retry failed the same way: a counter
        await asyncio.to_thread(worker.publish)
        await asyncio.to_thread(worker.publish)
        assert len(kube.patches) == 1  # held
        await wait_for(lambda: len(kube.patches) == 2, what="the held counters flushed without any other change")
        flushed = kube.patches[-1]
        assert flushed["services"]["feeds"]["updatedReplicas"] == 1 and flushed["trading"]["attempts"] == 2

        st.trading.attempts = 4  # held again ...
        await asyncio.to_thread(worker.publish)
        assert len(kube.patches) == 2
        observed["feeds"] = starting("feeds", ready=1, updated=1)  # one service ready while the desk starts: too
        await asyncio.to_thread(worker.publish)
        assert len(kube.patches) == 2
        await wait_for(lambda: worker._counters_held is not None, what="the flush armed")
        st.trading.error = "UNAVAILABLE: connection refused"  # ... until a real change: a new error
        await asyncio.to_thread(worker.publish)
        assert len(kube.patches) == 3
        written = kube.patches[-1]
        assert written["readyServices"] == "1/5" and written["trading"]["attempts"] == 4
        assert written["trading"]["lastError"] == "UNAVAILABLE: connection refused"
        await wait_for(lambda: worker._counters_held is None, what="the flush cancelled: nothing is held")
        assert st.last_status == written
    finally:
        await worker.stop()
