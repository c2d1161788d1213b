"""Spec of supervision: how ``tradingdesk up`` restarts a crashed service process, and what trading does
while one is down. docs/architecture.md (Supervision) and docs/runbooks/service-crash.md describe it.

The embedded runtime only. On Kubernetes the kubelet restarts a crashed container itself (restartPolicy,
CrashLoopBackOff) and the operator ignores this field: it renders nothing from it.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from tradingdesk.spec.base import Model


class SupervisionSpec(Model):
    """Restart policy of the embedded runtime's service processes, and the halt when compliance stays down.

    A crashed service is restarted after a delay that grows fourfold with each crash in the window, from
    ``restartBackoffInitialMs`` up to ``restartBackoffMaxMs``; the others keep running. A service that crashes
    more than ``maxRestarts`` times within ``restartWindowSeconds`` is given up on and the whole desk stops.
    While risk is down every routing gate refuses new orders by itself (RISK_STREAM_LOST after
    ``spec.risk.gateStreamTimeoutMs``); while compliance is down routing keeps trading (compliance records the
    journal from where it stopped once it is back), unless it stays down longer than
    ``haltAfterComplianceDownSeconds``: then the desk is halted through the risk service, and stays halted
    until a person resumes it."""

    restart_backoff_initial_ms: int = Field(default=20, ge=10, le=60_000)
    """Delay before the first restart of a crashed service; four times longer with each further crash in the
    window."""
    restart_backoff_max_ms: int = Field(default=10_000, ge=10, le=600_000)
    """Longest delay between a crash and its restart."""
    max_restarts: int = Field(default=5, ge=0, le=1_000)
    """Restarts of one service allowed within restartWindowSeconds; one crash more stops the desk (0: the first
    crash of any service stops the desk)."""
    restart_window_seconds: int = Field(default=300, ge=1, le=86_400)
    """The window restarts are counted in; a service up longer than this starts again from the initial delay."""
    warm_spare: bool = True
    """Keep one Python process with every service's code imported, ready to become the next service restarted:
    a restart then skips the interpreter's start and imports (2-3 s; about 100 MB of memory while it waits)."""
    halt_after_compliance_down_seconds: int = Field(default=30, ge=1, le=86_400)
    """How long compliance may be down (from its crash until its restart reports SERVING) before the desk is
    halted (desk scope, HALTED, actor ``supervisor``). The halt is latched: only a person resumes it."""

    @model_validator(mode="after")
    def _backoff_bounded(self) -> SupervisionSpec:
        if self.restart_backoff_initial_ms > self.restart_backoff_max_ms:
            raise ValueError("restartBackoffInitialMs must not exceed restartBackoffMaxMs")
        return self
