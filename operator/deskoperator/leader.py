"""Leadership through a ``coordination.k8s.io/v1`` Lease: exactly one replica acts on desks at a time.

Why a Lease and not kopf's peering: a peering record of a dead replica kept a new one waiting ~48 s without a
word. A Lease has a holder, a renew time and a duration that anyone can read (``kubectl get lease``), and the
rules are the ones controller-runtime and client-go use:

- a candidate takes the Lease when it is free, expired (``renewTime + leaseDurationSeconds`` passed), or its own;
  writes use the Lease's resourceVersion, so two candidates can never both win;
- the leader renews every ``renew_every`` seconds; if it cannot renew for ``lease_seconds`` it has lost and the
  process exits (crash-only: the pod restarts as a candidate), so two leaders never act at once;
- on a clean stop the leader releases the Lease, and a standby takes over within one retry (``retry_every``);
- a waiting candidate logs who holds the Lease and when it expires, every few seconds.

Takeover after a leader dies without releasing: at most ``lease_seconds + retry_every`` (15 + 2 s by default).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from deskoperator import metrics
from deskoperator.kube import Kube, KubeError

log = logging.getLogger(__name__)

MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"
WAIT_LOG_EVERY_S = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    for fmt in (MICROTIME, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class LeaseConfig:
    namespace: str
    name: str
    identity: str
    lease_seconds: int = 15
    renew_every: float = 5.0
    retry_every: float = 2.0
    preempt: bool = False
    """Take the Lease even from a live holder (it notices at its next renew and exits): for tests and handovers."""


class Elector:
    def __init__(self, kube: Kube, cfg: LeaseConfig) -> None:
        self.kube = kube
        self.cfg = cfg
        self.leading = False
        self.lost = asyncio.Event()

    # -- one attempt -------------------------------------------------------------------------------------------
    def _get(self) -> dict | None:
        return self.kube.get_lease(self.cfg.namespace, self.cfg.name)

    def _spec(self, transitions: int, acquired: str | None = None) -> dict:
        stamp = _now().strftime(MICROTIME)
        return {
            "holderIdentity": self.cfg.identity,
            "leaseDurationSeconds": self.cfg.lease_seconds,
            "acquireTime": acquired or stamp,
            "renewTime": stamp,
            "leaseTransitions": transitions,
        }

    def try_acquire(self) -> tuple[bool, str]:
        """One attempt to take or keep the Lease; (won, why not) — blocking, for a thread."""
        lease = self._get()
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.cfg.name, "namespace": self.cfg.namespace},
                "spec": self._spec(0),
            }
            try:
                self.kube.create_lease(body)
                return True, ""
            except KubeError as exc:
                return False, f"creating the Lease: {exc}"
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        renewed = _parse(spec.get("renewTime"))
        duration = int(spec.get("leaseDurationSeconds") or self.cfg.lease_seconds)
        expires = renewed.timestamp() + duration if renewed else 0.0
        mine = holder == self.cfg.identity
        if holder and not mine and time.time() < expires and not self.cfg.preempt:
            return False, f"held by {holder}, renewed {spec.get('renewTime')}, expires in {expires - time.time():.1f}s"
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
        lease["spec"] = self._spec(transitions, spec.get("acquireTime") if mine else None)
        try:
            self.kube.update_lease(lease)
        except KubeError as exc:
            return False, f"taking the Lease from {holder or 'nobody'}: {exc}"
        return True, ""

    # -- the loops ----------------------------------------------------------------------------------------------
    async def acquire(self) -> None:
        """Return once this replica leads; log the wait (who holds the Lease, until when) while it lasts."""
        started = time.monotonic()
        last_log = 0.0
        while True:
            won, why = await asyncio.to_thread(self.try_acquire)
            if won:
                waited = time.monotonic() - started
                self.leading = True
                metrics.METRICS.set_gauge("tradingdesk_operator_leader", 1)
                metrics.METRICS.set_gauge("tradingdesk_operator_lease_wait_seconds", waited)
                metrics.METRICS.inc("tradingdesk_operator_leader_transitions_total")
                log.info("leading: Lease %s/%s acquired by %s after %.1fs", self.cfg.namespace, self.cfg.name,
                         self.cfg.identity, waited)  # fmt: skip
                return
            if time.monotonic() - last_log >= WAIT_LOG_EVERY_S:
                log.info("waiting for leadership: Lease %s/%s %s", self.cfg.namespace, self.cfg.name, why)
                last_log = time.monotonic()
            await asyncio.sleep(self.cfg.retry_every)

    async def keep(self) -> None:
        """Renew until the Lease is lost (then set ``lost`` and return)."""
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(self.cfg.renew_every)
            try:
                lease = await asyncio.to_thread(self._get)
                holder = ((lease or {}).get("spec") or {}).get("holderIdentity")
                if holder != self.cfg.identity:
                    log.error("leadership lost: Lease %s/%s is now held by %s", self.cfg.namespace, self.cfg.name,
                              holder or "nobody")  # fmt: skip
                    break
                won, why = await asyncio.to_thread(self.try_acquire)
            except KubeError as exc:
                won, why = False, str(exc)
            if won:
                last_ok = time.monotonic()
                continue
            log.warning("Lease %s/%s not renewed: %s", self.cfg.namespace, self.cfg.name, why)
            if time.monotonic() - last_ok >= self.cfg.lease_seconds:
                log.error("leadership lost: not renewed for %ss", self.cfg.lease_seconds)
                break
        self.leading = False
        metrics.METRICS.set_gauge("tradingdesk_operator_leader", 0)
        self.lost.set()

    def release(self) -> None:
        """Give the Lease up at a clean stop, so a standby takes over at its next attempt (blocking)."""
        if not self.leading:
            return
        try:
            lease = self._get()
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.cfg.identity:
                lease["spec"]["holderIdentity"] = ""
                lease["spec"]["leaseDurationSeconds"] = 1
                self.kube.update_lease(lease)
                log.info("Lease %s/%s released", self.cfg.namespace, self.cfg.name)
        except KubeError as exc:
            log.warning("Lease %s/%s not released (%s): a standby takes over when it expires", self.cfg.namespace,
                        self.cfg.name, exc)  # fmt: skip
        self.leading = False
        metrics.METRICS.set_gauge("tradingdesk_operator_leader", 0)
