"""One desk's controller: three independent workers and the status they share.

- **trading**: ``spec.tradingState`` to the RiskService, first and on its own: it is read from the raw object
  (never through the spec model, which may refuse the rest of the spec) and retried with backoff until the
  service confirms. Level-triggered: it compares the spec with what the service last confirmed (kept in
  status), so it never depends on knowing whether an event was a create or an update.
- **limits**: ``spec.risk`` to the RiskService with ``SetLimits`` (live, no pod restart), the same way.
- **reconcile**: the spec model, then the children (only what differs), retried with backoff on failure.

Status shows only what the RiskService confirmed (``tradingState``), and says what is still pending and why.
Why not kopf's create/update handlers: they depend on a copy of the whole spec kept in an annotation, which a
large desk does not fit (256 KiB), and then every event looked like a create.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import kopf
import yaml

from deskoperator import audit, metrics, reconcile, rpc, storage
from deskoperator.config import Config
from deskoperator.delivery import Backoff, Confirmation, Delivery, Reported
from deskoperator.diff import drift
from deskoperator.kube import Kube, KubeError
from deskoperator.limits import limits_hash, risk_limits, without_version
from deskoperator.names import API_GROUP, API_VERSION, KIND, SPEC_FILE, config_map_name, labels
from deskoperator.render import Owner, config_hash, render
from deskoperator.state import DeskState
from deskoperator.status import COUNTER_HOLD_S, Desired, Observed, PodObs, compute, counters_only
from tradingdesk.spec.load import SpecError, parse_desk
from tradingdesk.spec.model import DEFAULT_PORTS, SERVICE_NAMES, TradingDesk

log = logging.getLogger(__name__)

Views = Callable[[str, str], tuple[dict[str, Observed], dict[str, list[PodObs]], dict[str, bool]]]
"""(namespace, desk) -> what its Deployments and pods report, and which nodes are ready (from kopf's indexes)."""


def desk_ref(namespace: str, name: str, uid: str) -> dict[str, Any]:
    """Enough of a TradingDesk for kopf to post an Event about it."""
    meta = {"name": name, "namespace": namespace, "uid": uid}
    return {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": KIND, "metadata": meta}


def service_address(cfg: Config, body: dict[str, Any], namespace: str, name: str, service: str) -> str:
    """Where one of the desk's services answers (read from the raw object: it must work for a refused spec too)."""
    services = (body.get("spec") or {}).get("services") or {}
    port = (services.get(service) or {}).get("port") or DEFAULT_PORTS[service]
    return cfg.addresses.of(namespace, name, service, port)


def risk_address(cfg: Config, body: dict[str, Any], namespace: str, name: str) -> str:
    return service_address(cfg, body, namespace, name, "risk")


def desk_owner(st: DeskState) -> Owner:
    """The desk as its children's owner: its uid, and its creation time (a replay desk's clock origin)."""
    created = str((st.body.get("metadata") or {}).get("creationTimestamp") or "")
    return Owner(st.name, st.uid, created=created)


def _cond(status: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    return next((c for c in (status or {}).get("conditions", []) or [] if c.get("type") == type_), {})


def with_trading_state(desk: TradingDesk, state: str) -> TradingDesk:
    """``desk`` with another trading state (the last valid spec, carrying the kill switch of a refused one)."""
    if desk.spec.trading_state == state:
        return desk
    return desk.model_copy(update={"spec": desk.spec.model_copy(update={"trading_state": state})})


def audited_action(*, fresh: bool, previous: int | None, generation: int, changed: bool) -> str | None:
    """What the desk's audit trail records for one reconcile: ``apply`` (a new desk), ``change`` (a new
    generation), ``resume`` (children changed on an operator's first pass over an existing desk), ``repair``
    (children put back within one generation), or nothing."""
    if fresh:
        return "apply"
    if previous is not None and generation != previous:
        return "change"
    if changed:
        return "resume" if previous is None else "repair"
    return None


class DeskWorker:
    def __init__(
        self,
        st: DeskState,
        *,
        cfg: Config,
        kube: Kube,
        views: Views,
        prometheus_operator: Callable[[], bool] = lambda: False,
        recorder: audit.AuditRecorder | None = None,
    ) -> None:
        self.st = st
        self.recorder = recorder
        """Records what the operator did to the desk in its audit trail (ComplianceService.RecordOperatorAction)."""
        self.prometheus_operator = prometheus_operator
        """Whether the cluster serves PrometheusRule and ServiceMonitor now (asked at every render)."""
        self.cfg = cfg
        self.kube = kube
        self.views = views
        self.loop = asyncio.get_running_loop()
        self.trading = Delivery(
            f"{st.namespace}/{st.name} trading state", st.trading, self._deliver_trading, self.publish_soon,
            Backoff(first=0.5, cap=cfg.retry_cap),
        )  # fmt: skip
        self.limits = Delivery(
            f"{st.namespace}/{st.name} risk limits", st.limits, self._deliver_limits, self.publish_soon,
            Backoff(first=0.5, cap=cfg.retry_cap),
        )  # fmt: skip
        self._limits_by_hash: dict[str, Any] = {}
        self._wake = asyncio.Event()
        self._backoff = Backoff(first=1.0, cap=cfg.retry_cap)
        self._resync = False
        self._reconciling: asyncio.Future[None] | None = None
        """The reconcile running in its thread now: a thread cannot be cancelled, so ``stop`` waits for it."""
        self._publishing: asyncio.Task | None = None
        self._publish_again = False
        self._counters_held: asyncio.TimerHandle | None = None
        """The flush of a status change held back because it only moved counters (``status.counters_only``)."""
        self._flush_counters = False
        """Set by that flush: the next ``publish`` writes even a counters-only change."""
        self._context = contextvars.copy_context()
        """The context of the kopf handler that made the worker: ``kopf.info``/``warn`` find kopf's event queue
        there, whoever asks for a status write (the heartbeat's task runs outside every handler)."""
        self._tasks = [
            self.loop.create_task(self.trading.run(), name=f"trading {st.namespace}/{st.name}"),
            self.loop.create_task(self.limits.run(), name=f"limits {st.namespace}/{st.name}"),
            self.loop.create_task(self._reconcile_loop(), name=f"reconcile {st.namespace}/{st.name}"),
        ]

    # -- events in ----------------------------------------------------------------------------------------------
    def observe(self, body: dict[str, Any]) -> None:
        """A watch event of the desk (any: listing, create, update, status change). Runs in the loop."""
        st = self.st
        meta = body.get("metadata", {})
        st.body, st.uid = body, meta.get("uid", st.uid)
        st.generation = int(meta.get("generation", 0))
        if not st.seen_status:
            saved = body.get("status") or {}
            st.trading.restore(saved.get("trading"))
            st.limits.restore(saved.get("riskLimits"))
            st.last_status = dict(saved) if saved else None  # keeps lastTransitionTime across operator restarts
            st.seen_status = True
        if meta.get("deletionTimestamp"):
            st.deleting = True  # the finalizer halts and lets go; nothing else starts now
            return
        # The kill switch first, from the raw object: whatever else the spec says, this is delivered.
        self.trading.want(str((body.get("spec") or {}).get("tradingState") or "Active"))
        if st.generation != st.handled_generation:
            self._wake.set()

    def nudge_risk(self) -> None:
        """The risk Deployment has a ready pod: retry pending deliveries now."""
        self.trading.nudge()
        self.limits.nudge()

    def resync_later(self) -> None:
        """A child could not be repaired: run a full sync (retried with backoff while it fails; thread-safe)."""
        self.loop.call_soon_threadsafe(self._request_resync)

    def _request_resync(self) -> None:
        self._resync = True
        self._wake.set()

    async def stop(self) -> None:
        """Stop the workers; a call to the RiskService already on the wire is waited for (bounded by its timeout),
        so nothing the workers sent can land after what the finalizer sends."""
        if self._counters_held is not None:
            self._counters_held.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._reconciling is not None:  # it records its action in the audit trail before the finalizer's
            with contextlib.suppress(Exception):
                await self._reconciling
        await self.trading.settle()
        await self.limits.settle()

    # -- live deliveries (run in a thread, bounded by --rpc-timeout) ----------------------------------------------
    def risk_address(self) -> str:
        return risk_address(self.cfg, self.st.body, self.st.namespace, self.st.name)

    def _deliver_trading(self, wish: str, record: Confirmation) -> Reported:
        """One ``SetTradingState``, bounded by ``--rpc-timeout``: the RiskService waits for its routing gates for at
        most 90% of that deadline and answers with how many applied the state, so a slow or silent gate is cut
        off (failing closed) and reported, never retried: the state is in force once the service answers."""
        address, timeout = self.risk_address(), self.cfg.rpc_timeout
        ref = desk_ref(self.st.namespace, self.st.name, self.st.uid)
        try:
            if not record.confirmed_for:
                # Never confirmed for this desk: its risk pods start in the spec's state (from the ConfigMap).
                current = rpc.get_trading_state(address, timeout)
                if current == wish:
                    return Reported(current, "in force since the risk pods started (read from the ConfigMap)")
            change = rpc.set_trading_state(address, wish, f"spec.tradingState set to {wish}", timeout)
        except rpc.DeliveryError as exc:
            metrics.METRICS.inc("tradingdesk_operator_trading_state_calls_total", result="error")
            if record.attempts == 0:  # one Event per wish, not one per retry
                kopf.warn(ref, reason="TradingStateNotDelivered", message=f"{wish}: {exc}; retrying with backoff")
            raise
        metrics.METRICS.inc("tradingdesk_operator_trading_state_calls_total", result="success")
        if change.state != wish:
            raise rpc.DeliveryError(f"{address}: the RiskService reports {change.state} after being set to {wish}")
        message = f"RiskService at {address} confirmed {change.state}, {change.describe()}"
        if change.cut_off_gates:
            kopf.warn(ref, reason="TradingStateChanged", message=message[:1000])
        else:
            kopf.info(ref, reason="TradingStateChanged", message=message[:1000])
        return Reported(change.state, change.describe())

    def _deliver_limits(self, wish: str, record: Confirmation) -> Reported:
        wanted = self._limits_by_hash.get(wish)
        if wanted is None:
            raise rpc.DeliveryError("superseded")  # the worker moves on to the newest wish
        address, timeout = self.risk_address(), self.cfg.rpc_timeout
        if not record.confirmed_for:
            live = rpc.get_limits(address, timeout)
            if without_version(live) == without_version(wanted):
                return Reported(str(live.version))
        reason = f"spec.risk of generation {self.st.generation}"
        try:
            reply = rpc.set_limits(address, wanted, reason, timeout)
        except rpc.DeliveryError as exc:
            metrics.METRICS.inc("tradingdesk_operator_limits_calls_total", result="error")
            if exc.refused:
                ref = desk_ref(self.st.namespace, self.st.name, self.st.uid)
                kopf.warn(ref, reason="LimitsRefused", message=str(exc))
            raise
        metrics.METRICS.inc("tradingdesk_operator_limits_calls_total", result="success")
        if without_version(reply) != without_version(wanted):
            raise rpc.DeliveryError(f"{address}: the RiskService answered with other limits than the spec's")
        ref = desk_ref(self.st.namespace, self.st.name, self.st.uid)
        kopf.info(ref, reason="LimitsApplied", message=f"RiskService at {address} runs limits version {reply.version}")
        return Reported(str(reply.version))

    # -- the reconcile -------------------------------------------------------------------------------------------
    async def _reconcile_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self._reconciling = asyncio.ensure_future(asyncio.to_thread(self.reconcile_once))
                await asyncio.shield(self._reconciling)
                self._backoff.reset()
            except KubeError as exc:
                delay = self._backoff.next_delay()
                log.warning("%s/%s: reconcile failed (%s); retrying in %.1fs", self.st.namespace, self.st.name, exc,
                            delay)  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                self._resync = True
                self._wake.set()
            self.publish_soon()

    def reconcile_once(self) -> None:
        """Parse the spec and bring the children to it (a thread: it makes blocking API calls)."""
        st = self.st
        body, resync = st.body, self._resync  # one object throughout: a watch event may replace st.body meanwhile
        generation = int(body.get("metadata", {}).get("generation", 0))
        if st.deleting or body.get("metadata", {}).get("deletionTimestamp"):
            return
        if generation == st.handled_generation and not resync:
            return
        self._resync = False
        ref = desk_ref(st.namespace, st.name, st.uid)
        started = time.monotonic()
        raw_state = str((body.get("spec") or {}).get("tradingState") or "Active")
        try:
            desk = parse_desk(body, f"{st.namespace}/{st.name}")
            refused = ("UnsafeStorage", storage.refusal(desk))
        except SpecError as exc:
            refused = ("InvalidSpec", "; ".join(exc.problems))
        if refused[1] is not None:
            error = (refused[0], refused[1])
            if st.error != error:
                kopf.warn(ref, reason=error[0], message=error[1][:1000])
            st.error = error  # the last applied generation stays applied (observedGeneration)
            st.handled_generation = generation
            with st.apply_lock:
                self.keep_trading_state_in_config_map(raw_state)
            metrics.METRICS.observe_reconcile(time.monotonic() - started, ok=False)
            return
        wanted = risk_limits(desk.spec.risk)
        digest = limits_hash(wanted)
        self._limits_by_hash = {digest: wanted}
        self.loop.call_soon_threadsafe(self.limits.want, digest)
        with st.apply_lock:
            replicas = {s: getattr(desk.spec.services, s).replicas for s in SERVICE_NAMES}
            for s, n in replicas.items():
                if st.replicas and n > st.replicas.get(s, 0):
                    st.scaled_up[s] = time.time()
                    grace = getattr(desk.spec.services, s).startup_grace_seconds
                    self.loop.call_soon_threadsafe(self.loop.call_later, grace + 0.5, self.publish_soon)
            st.desk = desk
            st.rendered = render(
                desk,
                st.namespace,
                desk_owner(st),
                self.cfg.image,
                prometheus_operator=self.prometheus_operator(),
            )
            st.config_hashes = {s: config_hash(desk, s) for s in SERVICE_NAMES}
            st.replicas = replicas
            fresh = not body.get("status") and st.reconciled_generation is None
            previous = st.reconciled_generation
            try:
                changes = reconcile.sync(self.kube, st.rendered, st.namespace, st.name, st.uid, fresh=fresh)
            except KubeError as exc:
                metrics.METRICS.observe_reconcile(time.monotonic() - started, ok=False)
                if generation == st.reconciled_generation:  # this spec was applied before: a repair failed
                    self.repair_failed(exc)
                else:
                    st.error, st.handled_generation = ("ReconcileFailed", str(exc)), generation
                    kopf.warn(ref, reason="ReconcileFailed", message=str(exc)[:1000])
                raise
            st.error, st.repair_error = None, ""
            st.reconciled_generation = st.handled_generation = generation
        metrics.METRICS.observe_reconcile(time.monotonic() - started, ok=True)
        metrics.METRICS.set_gauge(
            "tradingdesk_operator_desk_last_reconcile_timestamp_seconds", time.time(), namespace=st.namespace,
            desk=st.name,
        )  # fmt: skip
        if changes:
            kopf.info(ref, reason="Reconciled", message=f"generation {generation}: {changes.summary()}"[:1000])
        action = audited_action(fresh=fresh, previous=previous, generation=generation, changed=bool(changes))
        if self.recorder is not None and action is not None:
            detail = changes.summary() if changes else "no child changed"
            request = audit.action_request(body, namespace=st.namespace, name=st.name, action=action, detail=detail)
            address = service_address(self.cfg, body, st.namespace, st.name, "compliance")
            self.recorder.record((st.namespace, st.name), address, request)

    def keep_trading_state_in_config_map(self, state: str) -> None:
        """Put ``state`` in the ConfigMap though the rest of the spec is refused: a risk pod that restarts reads
        its trading state from there, and a halt must survive that too."""
        st = self.st
        name = config_map_name(st.name)
        if st.desk is not None:
            st.rendered = render(with_trading_state(st.desk, state), st.namespace, desk_owner(st),
                                 self.cfg.image, prometheus_operator=self.prometheus_operator())  # fmt: skip
            want = reconcile.find(st.rendered, "ConfigMap", name)
            live = self.kube.get("ConfigMap", st.namespace, name)
            if want is not None and (live is None or drift(want, live)):
                reconcile.put_back(self.kube, want)
            return
        live = self.kube.get("ConfigMap", st.namespace, name)  # an operator restarted while the spec is refused
        if live is None:
            return
        document = yaml.safe_load((live.get("data") or {}).get(SPEC_FILE, "")) or {}
        spec = document.setdefault("spec", {})
        if spec.get("tradingState", "Active") == state:
            return
        spec["tradingState"] = state
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": st.namespace,
                "labels": labels(st.name),
                "ownerReferences": live["metadata"].get("ownerReferences", []),
            },
            "data": {SPEC_FILE: json.dumps(document, separators=(",", ":"), ensure_ascii=False)},
        }
        reconcile.put_back(self.kube, obj)

    # -- drift repair --------------------------------------------------------------------------------------------
    def may_have_drifted(self, event_type: str, live: dict[str, Any]) -> bool:
        """Whether a child's watch event can need ``repair``: a deletion, or an object that differs from what the
        desk renders now. Cheap and lock-free, in the loop: an event of an object in sync (nearly all of them:
        Deployments and Jobs reporting progress) needs no thread, and no wait for a running reconcile's lock.

        Reading ``st.rendered`` while a reconcile replaces it is safe: an object in sync with either rendering is
        left alone by ``repair`` too (with the new one) or brought to the new one by that reconcile."""
        st = self.st
        if st.desk is None or st.deleting:
            return False
        if event_type == "DELETED":
            return True
        if not reconcile.owned_by(live, st.uid):
            return False
        want = reconcile.find(st.rendered, live.get("kind", ""), live.get("metadata", {}).get("name", ""))
        return want is not None and bool(drift(want, live))

    def repair(self, event_type: str, live: dict[str, Any]) -> None:
        """Restore one child if it was deleted or edited away from what the desk renders (a thread)."""
        st = self.st
        kind, name = live.get("kind", ""), live.get("metadata", {}).get("name", "")
        if st.desk is None or st.deleting:
            return
        if event_type != "DELETED" and not reconcile.owned_by(live, st.uid):
            return
        # Wait for a running reconcile of this desk rather than skip: it may have passed this child already, and
        # a deletion event comes only once. The decision below reads the object fresh, so waiting is always safe.
        if not st.apply_lock.acquire(timeout=120):
            log.warning("drift check of %s/%s skipped: the desk's reconcile holds its lock", kind, name)
            return
        ref = desk_ref(st.namespace, st.name, st.uid)
        try:
            want = reconcile.find(st.rendered, kind, name)
            if want is None or (event_type != "DELETED" and not drift(want, live)):
                return
            current = self.kube.get(kind, st.namespace, name)  # the event may be stale: decide on the object now
            paths = drift(want, current) if current is not None else ["(deleted)"]
            if not paths:
                return
            owner = self.kube.get(KIND, st.namespace, st.name)
            if owner is None or owner["metadata"].get("uid") != st.uid or owner["metadata"].get("deletionTimestamp"):
                return
            how = reconcile.put_back(self.kube, want)
            metrics.METRICS.inc("tradingdesk_operator_drift_repairs_total", kind=kind)
            what = "recreated deleted" if current is None else f"restored {', '.join(paths[:4])} of"
            suffix = "" if how == "applied" else f" ({how}: apply could not merge it)"
            kopf.warn(ref, reason="DriftRepaired", message=f"{what} {kind}/{name}{suffix}")
            if st.repair_error:
                st.repair_error = ""
                self.loop.call_soon_threadsafe(self.publish_soon)
        except KubeError as exc:
            if "being terminated" in str(exc):  # a namespace being deleted removes children before their desk
                log.debug("drift repair of %s/%s skipped: %s", kind, name, exc)
                return
            self.repair_failed(exc)
            self.resync_later()
        finally:
            st.apply_lock.release()

    def repair_failed(self, exc: KubeError) -> None:
        """A child could not be put back: an Event (once per distinct error), a condition, a metric; retried."""
        st = self.st
        message = f"repair failed: {exc.message}"
        metrics.METRICS.inc("tradingdesk_operator_repair_failures_total", kind=exc.kind or "unknown")
        metrics.METRICS.inc("tradingdesk_operator_desk_repair_failures_total", namespace=st.namespace, desk=st.name)
        if st.repair_error != message:
            kopf.warn(desk_ref(st.namespace, st.name, st.uid), reason="RepairFailed", message=message[:1000])
            log.warning("%s/%s: %s", st.namespace, st.name, message)
        st.repair_error = message

    # -- status --------------------------------------------------------------------------------------------------
    def publish_soon(self) -> None:
        """Write status once more (coalesced: many calls while a write runs make one more write). In the loop."""
        if self._publishing is not None and not self._publishing.done():
            self._publish_again = True
            return
        self._publishing = self.loop.create_task(self._publish_loop(), context=self._context.copy())

    def _hold_counters(self) -> None:
        """A counters-only change waits: written at the latest ``COUNTER_HOLD_S`` from the first one held (in the
        loop). Later counter changes join it; a real change writes them all at once and cancels the flush."""
        if self._counters_held is None:
            self._counters_held = self.loop.call_later(COUNTER_HOLD_S, self._flush_held_counters)

    def _flush_held_counters(self) -> None:
        self._counters_held = None
        self._flush_counters = True
        self.publish_soon()

    def _counters_written(self) -> None:
        """A write is going out with every counter in it: nothing is held any more (in the loop)."""
        if self._counters_held is not None:
            self._counters_held.cancel()
            self._counters_held = None

    async def _publish_loop(self) -> None:
        while True:
            self._publish_again = False
            try:
                await asyncio.to_thread(self.publish)
            except Exception:  # a status write must never kill the desk's worker
                log.exception("status of %s/%s not written", self.st.namespace, self.st.name)
            if not self._publish_again:
                return

    def publish(self) -> None:
        """Compute the desk's status and write it if anything changed (one writer at a time per desk)."""
        st = self.st
        with st.status_lock:
            if st.deleting or (st.desk is None and st.error is None):
                return
            services = st.desk.spec.services if st.desk else None
            grace = {s: getattr(services, s).startup_grace_seconds for s in SERVICE_NAMES} if services else {}
            desired = Desired(
                generation=st.generation,
                reconciled_generation=st.reconciled_generation,
                replicas=st.replicas,
                config_hashes=st.config_hashes,
                error=st.error,
                repair_error=st.repair_error,
                limits=st.limits if st.limits.want else None,
                starting=st.starting(grace),
                operator=st.heartbeat,
                ready_wanted=storage.ready_wanted(st.desk) if st.desk is not None else None,
            )
            observed, pods, nodes = self.views(st.namespace, st.name)
            status = compute(desired, observed, st.trading, st.last_status, pods=pods, nodes_ready=nodes)
            if status == st.last_status:
                self._flush_counters = False
                return
            if not self._flush_counters and counters_only(st.last_status, status):
                self.loop.call_soon_threadsafe(self._hold_counters)  # written by the flush or the next real change
                return
            self._flush_counters = False
            self.loop.call_soon_threadsafe(self._counters_written)
            try:
                self.kube.patch_status(KIND, st.namespace, st.name, status)
            except KubeError as exc:
                log.warning("status of %s/%s not written: %s", st.namespace, st.name, exc)
                return
            metrics.METRICS.desk(st.namespace, st.name, status)  # with the status, before the Events' API calls
            self.announce(status)
            st.last_status = status

    def announce(self, status: dict[str, Any]) -> None:
        """An Event when the desk becomes degraded, recovers, or becomes Ready: what an SRE reads first."""
        st = self.st
        ref = desk_ref(st.namespace, st.name, st.uid)
        was, now_ = _cond(st.last_status, "Degraded"), _cond(status, "Degraded")
        if now_.get("status") == "True" and (was.get("status") != "True" or was.get("reason") != now_.get("reason")):
            kopf.warn(ref, reason=now_.get("reason", "Degraded"), message=f"desk degraded: {now_.get('message', '')}")
        elif was.get("status") == "True" and now_.get("status") == "False":
            kopf.info(ref, reason="Recovered", message="every service has its ready replicas again")
        ready_was, ready_now = _cond(st.last_status, "Ready"), _cond(status, "Ready")
        if ready_now.get("status") == "True" and ready_was.get("status") != "True":
            kopf.info(ref, reason="Ready", message=ready_now.get("message", ""))
