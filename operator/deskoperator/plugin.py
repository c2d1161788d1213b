"""``kubectl tradingdesk``: the SRE's view of a desk and its few safe actions, on top of kubectl.

Installed as the console script ``kubectl-tradingdesk``, so kubectl finds it as a plugin. Modelled on
CloudNativePG's ``kubectl cnpg``: one ``status`` screen, actions that go through the custom resource (never
around the operator), and that wait for the operator's confirmation. It runs kubectl for every API call, so the
person's kubeconfig, context and RBAC apply as they do to kubectl itself.

- ``status DESK``: the desk, its services, pods and nodes, the trading state the RiskService confirmed (and any
  pending one), the operator's heartbeat (judged: stale means no operator acts), feed lines and service health
  when reachable, and the latest warnings. A desk with ``spec.access.tls`` answers only a client certificate
  from its CA: ``--ca``/``--cert``/``--key`` or the CLI's ``TD_TLS_CA``/``TD_TLS_CERT``/``TD_TLS_KEY``
  (docs/security.md, "how to add a client"); without them the plugin dials in plaintext.
- ``halt DESK`` / ``resume DESK``: ``spec.tradingState`` through the spec, then wait until the RiskService
  confirmed it (exit 0), or say why not (exit 1) and what to do.
- ``logs DESK [--service S]``: the desk's pod logs, prefixed by pod.
- ``backup DESK``: the desk's definition as a manifest ``kubectl apply --server-side -f`` restores. The desk's
  data (journal, positions) is not in it: not yet (data backup comes with PostgreSQL storage).
- ``switchover DESK [--to POD]``: move the active router to a ready standby (``deskoperator.handover`` judges
  when that is safe and refuses otherwise, exit 1), then wait until the new one reports SERVING (its pod Ready).
  It steps the active pod down itself, so it works while no operator runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import yaml

from deskoperator import handover, podstate
from deskoperator.names import COMPONENT_LABEL, INSTANCE_LABEL
from tradingdesk.security import channels
from tradingdesk.security.channels import ClientCredentials
from tradingdesk.spec.model import DEFAULT_PORTS, SERVICE_NAMES
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc, monitoring_pb2, monitoring_pb2_grpc

STALE_AFTER_INTERVALS = 3
LINE_STATES = {1: "live", 2: "lagging", 3: "silent", 4: "down", 5: "disabled"}
FEED_HEALTH = {1: "LIVE", 2: "DEGRADED", 3: "DOWN"}


class PluginError(RuntimeError):
    """What went wrong, in words for the person at the terminal (exit 1)."""


class Kubectl:
    def __init__(self, namespace: str | None, kubeconfig: str | None = None, context: str | None = None) -> None:
        self.binary = shutil.which("kubectl") or "kubectl"
        self.base = [self.binary]
        if kubeconfig:
            self.base += ["--kubeconfig", kubeconfig]
        if context:
            self.base += ["--context", context]
        self.namespace = namespace

    def run(self, *args: str, namespaced: bool = True, check: bool = True, stdin: str | None = None) -> str:
        cmd = [*self.base, *(["-n", self.namespace] if namespaced and self.namespace else []), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=60)
        if check and proc.returncode != 0:
            raise PluginError(proc.stderr.strip() or f"kubectl {' '.join(args)} failed")
        return proc.stdout

    def json(self, *args: str, namespaced: bool = True) -> dict[str, Any]:
        return json.loads(self.run(*args, "-o", "json", namespaced=namespaced))


# -- judging what status says ----------------------------------------------------------------------------------


def _age(stamp: str, now: datetime | None = None) -> float | None:
    try:
        then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None
    return ((now or datetime.now(UTC)) - then).total_seconds()


def operator_line(status: dict[str, Any], now: datetime | None = None) -> str:
    """Is an operator acting on the desk? Judged from the heartbeat, not from what the last one wrote."""
    beat = status.get("operator") or {}
    if not beat:
        return "NO HEARTBEAT: no operator has acted on this desk since it started writing heartbeats"
    age, every = _age(beat.get("heartbeatTime", ""), now), int(beat.get("heartbeatSeconds") or 30)
    if beat.get("state") == "Stopped":
        return f"STOPPED: {beat.get('leader')} stopped {age:.0f}s ago; waiting for another replica"
    if age is None or age > STALE_AFTER_INTERVALS * every:
        return f"NOT RUNNING: last heartbeat {age:.0f}s ago from {beat.get('leader')} (every {every}s)"
    return f"{beat.get('leader')} (heartbeat {age:.0f}s ago, every {every}s)"


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) or [] if c.get("type") == type_), {})


def trading_line(status: dict[str, Any]) -> str:
    trading = status.get("trading") or {}
    confirmed = status.get("tradingState") or "none confirmed yet"
    halted = condition(status, "TradingHalted")
    line = f"{confirmed} (confirmed by the RiskService {trading.get('confirmedTime') or '-'}"
    line += f", {trading['delivery']})" if trading.get("delivery") else ")"
    if halted.get("status") == "Unknown":
        line += f"; PENDING spec {trading.get('desired')}: {halted.get('reason')}: {trading.get('lastError') or ''}"
    return line


# -- status --------------------------------------------------------------------------------------------------------


def client_credentials(args: argparse.Namespace, env: Mapping[str, str]) -> ClientCredentials | None:
    """The person's client certificate for the desk's mutual TLS: flags, else the CLI's environment variables;
    None (plaintext) when neither names one."""
    ca = getattr(args, "ca", None) or env.get("TD_TLS_CA")
    cert = getattr(args, "cert", None) or env.get("TD_TLS_CERT")
    key = getattr(args, "key", None) or env.get("TD_TLS_KEY")
    if not (ca or cert or key):
        return None
    if bool(cert) != bool(key):
        raise PluginError("a client certificate needs its key too (--cert with --key)")
    paths = [Path(p).expanduser() if p else None for p in (ca, cert, key)]
    for path in paths:
        if path is not None and not path.exists():
            raise PluginError(f"{path}: no such file")
    return ClientCredentials(ca=paths[0], cert=paths[1], key=paths[2])


def _grpc_call(address: str, call: Any, timeout: float, credentials: ClientCredentials | None = None) -> Any:
    try:
        with channels.channel(address, credentials=credentials) as channel:
            return call(channel, timeout)
    except grpc.RpcError as exc:
        code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
        raise PluginError(f"{address}: {code}") from None


def feed_lines(address: str, timeout: float, credentials: ClientCredentials | None = None) -> list[str]:
    report = _grpc_call(
        address,
        lambda ch, t: market_data_pb2_grpc.MarketDataServiceStub(ch).GetFeedStatus(
            market_data_pb2.GetFeedStatusRequest(), timeout=t
        ),
        timeout,
        credentials,
    )
    out = []
    for feed in report.feeds:
        lines = ", ".join(
            f"{line.name}{'*' if line.active else ''} {LINE_STATES.get(line.state, '?')}" for line in feed.lines
        )
        out.append(
            f"{feed.feed:<14} {FEED_HEALTH.get(feed.health, '?'):<9} {lines}  (gaps {feed.gaps}, lost {feed.lost})"
        )
    if report.stale_symbols:
        out.append(f"stale symbols: {', '.join(report.stale_symbols[:10])}")
    return out


def health_lines(address: str, timeout: float, credentials: ClientCredentials | None = None) -> list[str]:
    summary = _grpc_call(
        address,
        lambda ch, t: monitoring_pb2_grpc.MonitoringServiceStub(ch).GetHealthSummary(
            monitoring_pb2.GetHealthSummaryRequest(), timeout=t
        ),
        timeout,
        credentials,
    )
    bad = [f"{s.service} {s.status}: {s.detail}" for s in summary.services if s.status != "SERVING"]
    return bad or ["every service SERVING"]


def _address(desk: dict[str, Any], service: str, given: str) -> str:
    if given:
        return given
    meta, spec = desk["metadata"], desk.get("spec", {})
    port = ((spec.get("services") or {}).get(service) or {}).get("port") or DEFAULT_PORTS[service]
    return f"{meta['name']}-{service}.{meta['namespace']}.svc:{port}"


def status_screen(
    k: Kubectl,
    name: str,
    *,
    feeds: str = "",
    monitoring: str = "",
    timeout: float = 2.0,
    credentials: ClientCredentials | None = None,
) -> str:
    desk = k.json("get", "tradingdesk", name)
    st = desk.get("status") or {}
    meta = desk["metadata"]
    pods = k.json("get", "pods", "-l", f"{INSTANCE_LABEL}={name}")["items"]
    colocation = ((desk.get("spec") or {}).get("placement") or {}).get("colocation", "")
    selector = ["-l", f"tradingdesk.io/colocation={colocation}"] if colocation else []
    nodes = k.json("get", "nodes", *selector, namespaced=False)["items"]
    out = [f"Desk        {meta['namespace']}/{meta['name']} (generation {meta.get('generation')}, "
           f"applied {st.get('observedGeneration', '-')})"]  # fmt: skip
    for type_ in ("Ready", "Degraded", "Progressing"):
        c = condition(st, type_)
        out.append(f"{type_:<12}{c.get('status', '?')} {c.get('reason', '')}: {c.get('message', '')}")
    out.append(f"{'Trading':<12}{trading_line(st)}")
    limits = st.get("riskLimits") or {}
    if limits:
        pending = limits.get("confirmedFor") != limits.get("desired")
        how = f"; PENDING: {limits.get('lastError') or 'delivering'}" if pending else " (the spec's)"
        out.append(f"{'Risk limits':<12}version {limits.get('reported') or '-'}{how}")
    out.append(f"{'Operator':<12}{operator_line(st)}")
    out += ["", f"{'SERVICE':<12}{'READY':<8}{'UPDATED':<9}PODS"]
    by_service: dict[str, list[str]] = {}
    for pod in pods:
        service = pod["metadata"]["labels"].get(COMPONENT_LABEL, "?")
        ready = next((c["status"] for c in pod.get("status", {}).get("conditions", []) if c["type"] == "Ready"), "?")
        where = pod.get("spec", {}).get("nodeName") or "unscheduled"
        phase = pod.get("status", {}).get("phase", "?")
        stopping = ", stopping" if podstate.deleting(pod) else ""
        by_service.setdefault(service, []).append(f"{podstate.name(pod)} ({where}, {phase}, ready {ready}{stopping})")
    for service in SERVICE_NAMES:
        s = (st.get("services") or {}).get(service, {})
        counts = f"{s.get('readyReplicas', 0)}/{s.get('replicas', '?')}"
        pods_text = "; ".join(by_service.get(service, ["-"]))
        out.append(f"{service:<12}{counts:<8}{s.get('updatedReplicas', 0):<9}{pods_text}")
    out += ["", f"NODES{f' (colocation {colocation})' if colocation else ''}"]
    for node in nodes:
        ready = next((c["status"] for c in node.get("status", {}).get("conditions", []) if c["type"] == "Ready"), "?")
        taints = ",".join(
            t["key"] for t in node.get("spec", {}).get("taints", []) or [] if "node.kubernetes.io" in t["key"]
        )
        out.append(f"{node['metadata']['name']:<24}{'Ready' if ready == 'True' else 'NotReady'} {taints}".rstrip())
    out += ["", "FEED LINES"]
    try:
        out += feed_lines(_address(desk, "feeds", feeds), timeout, credentials)
    except PluginError as exc:
        out.append(f"unreachable from here ({exc}); inside the cluster, or give --feeds HOST:PORT")
    out += ["", "HEALTH (monitoring)"]
    try:
        out += health_lines(_address(desk, "monitoring", monitoring), timeout, credentials)
    except PluginError as exc:
        out.append(f"unreachable from here ({exc}); inside the cluster, or give --monitoring HOST:PORT")
    events = k.json("get", "events", "--field-selector", f"involvedObject.kind=TradingDesk,involvedObject.name={name}")
    warnings = [e for e in events["items"] if e.get("type") == "Warning"]
    warnings.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    out += ["", "WARNINGS (latest 5)"]
    out += [f"{e.get('lastTimestamp') or '-'} {e['reason']}: {e.get('message', '')[:160]}" for e in warnings[-5:]] or [
        "none"
    ]
    return "\n".join(out)


# -- actions -------------------------------------------------------------------------------------------------------


def set_trading_state(k: Kubectl, name: str, state: str, timeout: float, out: Any = sys.stdout) -> int:
    """Through the spec, then wait for the RiskService's confirmation (what status.tradingState shows)."""
    k.run("patch", "tradingdesk", name, "--type", "merge", "-p", json.dumps({"spec": {"tradingState": state}}))
    print(f"spec.tradingState of {name} set to {state}; waiting for the RiskService to confirm", file=out)
    deadline = time.monotonic() + timeout
    st: dict[str, Any] = {}
    while time.monotonic() < deadline:
        st = (k.json("get", "tradingdesk", name).get("status")) or {}
        halted = condition(st, "TradingHalted")
        if st.get("tradingState") == state and halted.get("status") in ("True", "False"):
            delivery = st["trading"].get("delivery")
            when = f"{name}: {state} confirmed by the RiskService at {st['trading'].get('confirmedTime')}"
            print(f"{when}, {delivery}" if delivery else when, file=out)
            return 0
        time.sleep(0.5)
    halted = condition(st, "TradingHalted")
    print(
        f"{name}: {state} NOT confirmed after {timeout:.0f}s: {halted.get('reason')}: {halted.get('message')}\n"
        "The operator keeps retrying. To act now, use the desk's own kill switch (tradingdesk kill, or the risk "
        "service's HTTP kill switch): see docs/runbooks/kill-switch.md",
        file=out,
    )
    return 1


def record_event(k: Kubectl, desk: dict[str, Any], *, reason: str, message: str) -> None:
    """A Normal Event on the desk, as the operator's own (``kubectl describe desk`` shows who did what). Best
    effort: without the right to create Events, say so and carry on."""
    meta, stamp = desk["metadata"], datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {"apiVersion": desk["apiVersion"], "kind": desk["kind"], "name": meta["name"],
                           "namespace": meta["namespace"], "uid": meta["uid"]},
        "reason": reason, "message": message, "type": "Normal", "source": {"component": "kubectl-tradingdesk"},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }  # fmt: skip
    try:
        k.run("create", "-f", "-", stdin=json.dumps(event))
    except PluginError as exc:
        print(f"(no {reason} Event recorded on the desk: {exc})", file=sys.stderr)


def switchover(k: Kubectl, name: str, *, to: str, timeout: float, out: Any = sys.stdout) -> int:
    """Step the active router down once ``handover.plan`` finds it safe, then wait for a standby to lead."""
    selector = f"{INSTANCE_LABEL}={name},{COMPONENT_LABEL}={handover.SERVICE}"
    desk = k.json("get", "tradingdesk", name)
    try:
        plan = handover.plan(desk, k.json("get", "pods", "-l", selector)["items"], to=to)
    except handover.SwitchoverRefused as exc:
        raise PluginError(f"switchover refused: {exc}") from None
    print(f"{name}: stepping down the active router {plan.active}; ready standby: {', '.join(plan.standbys)}", file=out)
    began = time.monotonic()
    k.run("delete", "pod", plan.active, "--wait=false")
    record_event(k, desk, reason="Switchover", message=f"{handover.SERVICE}: the active pod {plan.active} steps down "
                 "(kubectl tradingdesk switchover); a ready standby takes over")  # fmt: skip
    pods: list[dict[str, Any]] = []
    while time.monotonic() - began < timeout:
        pods = k.json("get", "pods", "-l", selector)["items"]
        # the stepped-down pod may still look Ready while it stops: it is out of the Service's endpoints already
        leaders = [podstate.name(p) for p in pods if podstate.ready(p) and podstate.name(p) != plan.active]
        if leaders:
            took = time.monotonic() - began
            print(f"{name}: {leaders[0]} leads now (routing SERVING), {took:.1f}s after {plan.active} was asked to "
                  "step down", file=out)  # fmt: skip
            if to and leaders[0] != to:
                print(f"{name}: not {to}, which was asked for: it stopped being a ready standby meanwhile", file=out)
                return 1
            return 0
        time.sleep(0.2)
    states = "; ".join(
        f"{podstate.name(p)} ready={podstate.ready(p)} started={podstate.started(p)}"
        f"{' stopping' if podstate.deleting(p) else ''}"
        for p in pods
    )
    print(
        f"{name}: no routing standby reported SERVING within {timeout:.0f}s of {plan.active} being asked to step "
        f"down ({states or 'no routing pods'}). Orders are refused until one does: see "
        "docs/runbooks/routing-failover.md",
        file=out,
    )
    return 1


def logs(k: Kubectl, name: str, service: str, tail: int, follow: bool) -> int:
    selector = f"{INSTANCE_LABEL}={name}" + (f",{COMPONENT_LABEL}={service}" if service else "")
    pods = [p["metadata"]["name"] for p in k.json("get", "pods", "-l", selector)["items"]]
    if not pods:
        raise PluginError(f"no pods of desk {name}{f' service {service}' if service else ''}")
    print(f"logs of {', '.join(pods)}", file=sys.stderr)
    args = ["logs", "-l", selector, "--prefix", "--all-containers", f"--tail={tail}", "--max-log-requests=10"]
    cmd = [*k.base, *(["-n", k.namespace] if k.namespace else []), *args, *(["-f"] if follow else [])]
    return subprocess.call(cmd)


SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "finalizers",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences")  # fmt: skip


def backup(k: Kubectl, name: str) -> str:
    """The desk's definition as a manifest to restore with ``kubectl apply --server-side -f``."""
    desk = k.json("get", "tradingdesk", name)
    meta = desk["metadata"]
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    annotations = {k_: v for k_, v in (meta.get("annotations") or {}).items() if not k_.startswith("tradingdesk.io/")}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    meta["annotations"] = annotations
    if not annotations:
        meta.pop("annotations")
    desk.pop("status", None)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = (
        f"# TradingDesk {meta.get('namespace')}/{name}, definition only, taken {stamp} by kubectl tradingdesk.\n"
        "# Restore: kubectl apply --server-side -f <this file>. Journal, orders and positions are not in it.\n"
    )
    return header + yaml.safe_dump(desk, sort_keys=False, width=1000)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kubectl tradingdesk", description="Look after TradingDesks from kubectl.")
    # like kubectl: -n before or after the command
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-n", "--namespace", default=argparse.SUPPRESS, help="the desk's namespace (default: the context's)"
    )
    common.add_argument("--kubeconfig", default=argparse.SUPPRESS)
    common.add_argument("--context", default=argparse.SUPPRESS)
    ap.add_argument("-n", "--namespace", default=None, help="the desk's namespace (default: the context's)")
    ap.add_argument("--kubeconfig", default=None)
    ap.add_argument("--context", default=None)
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser(
        "status", parents=[common], help="the desk, services, nodes, trading state, feed lines and health"
    )
    s.add_argument("desk")
    s.add_argument("--feeds", default="", help="FeedService address when its Service is not reachable")
    s.add_argument("--monitoring", default="", help="MonitoringService address when its Service is not reachable")
    s.add_argument("--ca", help="the desk's CA certificate (PEM), or TD_TLS_CA")
    s.add_argument("--cert", help="client certificate (PEM), or TD_TLS_CERT")
    s.add_argument("--key", help="client private key (PEM), or TD_TLS_KEY")
    for verb, what in (("halt", "Halted"), ("resume", "Active")):
        a = sub.add_parser(
            verb, parents=[common], help=f"set spec.tradingState to {what} and wait for the RiskService to confirm"
        )
        a.add_argument("desk")
        a.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for confirmation")
    lg = sub.add_parser("logs", parents=[common], help="the desk's pod logs")
    lg.add_argument("desk")
    lg.add_argument("--service", choices=SERVICE_NAMES, default="")
    lg.add_argument("--tail", type=int, default=100)
    lg.add_argument("-f", "--follow", action="store_true")
    sw = sub.add_parser(
        "switchover", parents=[common], help="move the active router to a ready standby and wait until it serves"
    )
    sw.add_argument("desk")
    sw.add_argument("--to", default="", metavar="POD", help="the standby that must take over (the only ready one)")
    sw.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the new active router")
    b = sub.add_parser("backup", parents=[common], help="the desk's definition as a restorable manifest")
    b.add_argument("desk")
    b.add_argument("-o", "--output", default="-", help="file (default: standard output)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    k = Kubectl(args.namespace, args.kubeconfig, args.context)
    try:
        if args.command == "status":
            credentials = client_credentials(args, os.environ)
            print(status_screen(k, args.desk, feeds=args.feeds, monitoring=args.monitoring, credentials=credentials))
            return 0
        if args.command in ("halt", "resume"):
            return set_trading_state(k, args.desk, "Halted" if args.command == "halt" else "Active", args.timeout)
        if args.command == "switchover":
            return switchover(k, args.desk, to=args.to, timeout=args.timeout)
        if args.command == "logs":
            return logs(k, args.desk, args.service, args.tail, args.follow)
        text = backup(k, args.desk)
        if args.output == "-":
            sys.stdout.write(text)
        else:
            with open(args.output, "w") as fh:
                fh.write(text)
            print(f"wrote {args.output}", file=sys.stderr)
        return 0
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
