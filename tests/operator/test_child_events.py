"""Which child watch events go to a thread for drift repair: deletions and drifted objects, never an object in sync."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from deskoperator.config import Config
from deskoperator.state import DeskState
from deskoperator.worker import DeskWorker

UID = "desk-uid"


def rendered_service() -> dict[str, Any]:
    owner = {"apiVersion": "tradingdesk.io/v1", "kind": "TradingDesk", "name": "d", "uid": UID}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "d-risk", "namespace": "ns", "ownerReferences": [owner]},
        "spec": {"ports": [{"name": "grpc", "port": 50053}]},
    }


def decisions(events: list[tuple[str, dict[str, Any]]]) -> list[bool]:
    async def run() -> list[bool]:
        st = DeskState("ns", "d", uid=UID)
        worker = DeskWorker(st, cfg=Config(), kube=None, views=lambda ns, name: ({}, {}, {}))  # type: ignore[arg-type]
        st.desk, st.rendered = object(), [rendered_service()]  # type: ignore[assignment]
        try:
            return [worker.may_have_drifted(kind, live) for kind, live in events]
        finally:
            await worker.stop()

    return asyncio.run(run())


def test_only_deleted_or_drifted_children_need_the_repair_thread() -> None:
    in_sync = copy.deepcopy(rendered_service())
    in_sync["metadata"]["resourceVersion"] = "7"  # what the server adds is not drift
    in_sync["spec"]["clusterIP"] = "10.96.0.9"
    edited = copy.deepcopy(in_sync)
    edited["spec"]["ports"][0]["port"] = 1
    stranger = copy.deepcopy(edited)
    stranger["metadata"]["ownerReferences"] = []
    unknown = copy.deepcopy(edited)
    unknown["metadata"]["name"] = "not-rendered"
    assert decisions(
        [("MODIFIED", in_sync), ("MODIFIED", edited), ("DELETED", in_sync), ("MODIFIED", stranger), ("ADDED", unknown)]
    ) == [False, True, True, False, False]
