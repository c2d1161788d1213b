"""Routing's snapshot child keeps none of routing's sockets: an orphaned child (routing SIGKILLed while it
serialized) held routing's /metrics port, and the restarted routing could not serve metrics for the rest of the
day."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from pathlib import Path

from sqlalchemy import create_engine

from tests.unit.desk_fixtures import make_desk
from tests.waiting import wait_until
from tradingdesk.routing.snapshots import RoutingSnapshots, _collect
from tradingdesk.spec.model import SnapshotSpec

PIPE_BUFFER = 64 * 1024


def open_fds(pid: int) -> dict[int, str]:
    """The child's descriptors and what each points at; empty once it is gone."""
    fds = {}
    for entry in Path(f"/proc/{pid}/fd").glob("*"):
        with contextlib.suppress(FileNotFoundError):
            fds[int(entry.name)] = os.readlink(entry)
    return fds


def test_the_serializing_child_closes_every_inherited_descriptor_but_its_pipe() -> None:
    desk = make_desk(finished_orders_kept=10)
    for i in range(20_000):  # 16 bytes each in the snapshot: more than a pipe holds, so the child waits on it
        desk.engine.book.retired.add(("ACC", f"old-{i}"), i + 1)
    snapshots = RoutingSnapshots(
        create_engine("sqlite://"), engine=desk.engine, spec=SnapshotSpec(), incarnation="test", extra=dict
    )
    listening = socket.create_server(("127.0.0.1", 0))
    pid, pipe = snapshots._fork_serializer(1)
    try:
        # blocked writing (nobody reads yet), its pipe open: what else does it hold?
        wait_until(
            lambda: (
                any(target.startswith("pipe:") for fd, target in open_fds(pid).items() if fd > 2)
                and set(open_fds(pid)) - {0, 1, 2} == {fd for fd, t in open_fds(pid).items() if t.startswith("pipe:")}
            ),
            timeout=10,
            what="the child holding only its pipe beyond the standard streams",
        )
        assert listening.fileno() not in open_fds(pid)
        body = _collect(pid, pipe, timeout_s=30)
        assert len(body) > PIPE_BUFFER
    finally:
        listening.close()
        if open_fds(pid):
            os.kill(pid, signal.SIGKILL)


async def test_the_parent_runs_no_collection_while_the_child_serializes() -> None:
    """A collection in the parent then would write into every object it walks, each page copied first after the
    fork (``bench/fork_gc.py``); the collector is on again, as before, once the snapshot's body is in."""
    import asyncio
    import gc

    desk = make_desk(finished_orders_kept=10)
    for i in range(20_000):
        desk.engine.book.retired.add(("ACC", f"old-{i}"), i + 1)
    snapshots = RoutingSnapshots(
        create_engine("sqlite://"), engine=desk.engine, spec=SnapshotSpec(), incarnation="test", extra=dict
    )
    gc.enable()
    seen: list[bool] = []
    serialized = asyncio.create_task(snapshots.serialize(1))
    while not serialized.done():
        seen.append(gc.isenabled())
        await asyncio.sleep(0)
    assert len(await serialized) > PIPE_BUFFER
    assert False in seen
    assert gc.isenabled()
