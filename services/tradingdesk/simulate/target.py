"""The desk under test: what a simulation needs of the desk it trades against, wherever the desk runs.

``tradingdesk simulate`` runs the embedded desk (``EmbeddedTarget``: the five processes of ``tradingdesk up``,
supervised). The local cluster's desk (its pods run by the test harness) implements the same protocol under
``tests/operator`` so that the same clients, probe, injector and verdict run against it: the harness is a test
oracle, never a dependency of the product. Only the cluster can lose a pod or a node (``ClusterActions``); only
the embedded desk has processes of this machine to SIGKILL.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from tradingdesk.runtime.embedded import EmbeddedDesk
from tradingdesk.runtime.supervisor import Supervisor


class ClusterActions(Protocol):
    """What a Kubernetes cluster can do to the desk's pods and nodes. Blocking calls (the injector runs them in a
    thread): each returns once the change was made, not once the desk recovered from it."""

    def kill_active_pod(self, service: str) -> dict[str, str]:
        """Delete the Ready (active) pod of ``service`` with a grace period of 0, as a crashed pod; returns
        ``{"pod": name, "node": node}``."""
        ...

    def node_of_active_pod(self, service: str) -> str:
        """The node the Ready (active) pod of ``service`` runs on."""
        ...

    def services_on(self, node: str) -> list[str]:
        """The desk's services with a pod on ``node`` (what losing it kills)."""
        ...

    def power(self, node: str, *, on: bool) -> None:
        """Power ``node`` off (every process of its pods killed at once) or on again; returns once it is done
        (off: the processes are dead)."""
        ...


class DeskUnderTest(Protocol):
    """The desk a simulation runs against: where its services answer, what may be done to them, and the
    environment its record is read with."""

    env: Mapping[str, str]
    """The desk's environment as the verdict reads it (its database: ``TD_DSN``)."""
    not_judged: Mapping[str, str]
    """Verdict lines that cannot apply to this desk, each with why: left out of the verdict, said in its notes."""
    cluster: ClusterActions | None
    """The pod and node actions of a cluster's desk; None when the desk does not run on one."""

    def address(self, service: str) -> str:
        """Where a client reaches ``service`` (``host:port``)."""
        ...

    def sigkill(self, service: str) -> int | None:
        """SIGKILL the current process of ``service``: its pid, or None when none was running."""
        ...

    async def watch(self) -> str:
        """Runs as long as the desk does; returns why it gave up early (a crash loop), if it does."""
        ...

    async def stop(self, *, say: Callable[[str], None], log_dir: Path) -> None:
        """Stop the desk once the run is over (or leave it to whoever started it), leaving in ``log_dir`` the
        record of its restarts that the verdict reads (``simulate.restarts``): the embedded supervisor writes its
        own as it goes; a cluster's desk writes its pods' (``POD_RESTARTS_FILE``)."""
        ...


class EmbeddedTarget:
    """The embedded desk of ``tradingdesk up``, already started, watched by its supervisor."""

    not_judged: Mapping[str, str] = {}
    cluster: ClusterActions | None = None

    def __init__(self, embedded: EmbeddedDesk, *, report: Callable[[str], None]) -> None:
        self.embedded = embedded
        self.report = report

    @property
    def env(self) -> Mapping[str, str]:
        return self.embedded.env

    def address(self, service: str) -> str:
        return self.embedded.directory.address(service)

    def sigkill(self, service: str) -> int | None:
        process = self.embedded.children[service].process
        if process.returncode is not None:
            return None
        os.kill(process.pid, signal.SIGKILL)
        return process.pid

    async def watch(self) -> str:
        return await Supervisor(self.embedded, report=self.report).run()

    async def stop(self, *, say: Callable[[str], None], log_dir: Path) -> None:
        say("stopping the desk (routing first; compliance seals the audit trail)")
        await self.embedded.stop(report=say)  # brings back a compliance the schedule left down, so that it seals


__all__ = ["ClusterActions", "DeskUnderTest", "EmbeddedTarget"]
