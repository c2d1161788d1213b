"""The kubelet half of the harness: nodes that heartbeat, pods whose containers run as local processes.

See the package docstring for what is run faithfully and what is not.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kubernetes import client

from tests.podharness.listwatch import list_and_watch
from tests.podharness.proxy import POD_NETWORK, ServiceProxies, local_address, service_ip

log = logging.getLogger("podharness")

POWER_ANNOTATION = "harness.tradingdesk.io/power"
LEASE_SECONDS = 40
HEARTBEAT_S = 5.0
BACKOFF_INITIAL_S, BACKOFF_MAX_S = 10.0, 300.0  # the kubelet's container restart back-off
VENV_BIN = str(Path(sys.executable).parent)
SOURCES = str(Path(__file__).resolve().parents[2] / "services")
"""This checkout's code, ahead of what the venv installed: a worktree sharing another checkout's venv (whose
editable install points there) runs its own ``tradingdesk`` in the pods, not the other checkout's."""


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Kubelet:
    """Registers ``nodes`` (name -> colocation) and runs every pod bound to them."""

    def __init__(self, api: client.ApiClient, nodes: dict[str, str], state_dir: Path) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.nodes = nodes
        self.state_dir = state_dir
        self.powered = dict.fromkeys(nodes, True)
        self.pods: dict[str, PodRun] = {}  # uid -> run
        self.pod_ips: dict[str, str] = {}
        self._ip_counter = itertools.count(1)
        self.proxies = ServiceProxies()
        self.lock = threading.RLock()
        self.stopping = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> None:
        for name, colocation in self.nodes.items():
            self._register(name, colocation)
        watches = (
            (self.core.list_pod_for_all_namespaces, self._on_pod),
            (self.core.list_service_for_all_namespaces, self.proxies.on_service),
            (client.DiscoveryV1Api(self.api).list_endpoint_slice_for_all_namespaces, self.proxies.on_endpoint_slice),
            (self.core.list_node, self._on_node),
        )
        for fn, handler in watches:
            threading.Thread(target=self._watch, args=(fn, handler), name=fn.__name__, daemon=True).start()
        threading.Thread(target=self._heartbeats, name="heartbeats", daemon=True).start()

    def stop(self) -> None:
        """Kill every process, remove the pods and the nodes: nothing is left bound to a node that is gone
        (the pod garbage collector would take a minute or more over it, and hold up namespace deletion)."""
        self.stopping.set()
        with self.lock:
            runs = list(self.pods.values())
        for run in runs:
            run.kill()
            with contextlib.suppress(client.ApiException):
                self.core.delete_namespaced_pod(run.name, run.namespace, grace_period_seconds=0)
        self.proxies.close()
        for name in self.nodes:
            with contextlib.suppress(client.ApiException):
                self.core.delete_node(name)

    def _watch(self, fn: Any, handler: Any) -> None:
        list_and_watch(fn, handler, self.stopping)

    # -- nodes ------------------------------------------------------------------------------------------------
    def _register(self, name: str, colocation: str) -> None:
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "tradingdesk.io/colocation": colocation,
            "topology.kubernetes.io/zone": colocation,
            "type": "podharness",
        }
        taints = [{"key": "tradingdesk.io/desk", "value": "true", "effect": "NoSchedule"}]
        with contextlib.suppress(client.ApiException):
            self.core.delete_node(name)  # a leftover of an earlier run: its pods are gone with it
        self.core.create_node({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}})
        self._node_status(name, ready=True)

    def _node_status(self, name: str, *, ready: bool) -> None:
        stamp = now()
        condition = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "KubeletReady" if ready else "KubeletNotReady",
            "message": "podharness kubelet is posting ready status" if ready else "powered off by the test",
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
        }
        capacity = {"cpu": "32", "memory": "256Gi", "pods": "110"}
        status = {
            "conditions": [condition],
            "capacity": capacity,
            "allocatable": capacity,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "podharness", "operatingSystem": "linux", "architecture": "amd64"},
        }
        self.core.patch_node_status(name, {"status": status})

    def _heartbeats(self) -> None:
        coordination = client.CoordinationV1Api(self.api)
        while not self.stopping.wait(HEARTBEAT_S):
            for name in self.nodes:
                if not self.powered[name]:
                    continue
                renew = {"spec": {"renewTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
                try:
                    try:
                        coordination.patch_namespaced_lease(name, "kube-node-lease", renew)
                    except client.ApiException as exc:
                        if exc.status != 404:
                            raise
                        spec = {"holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS, **renew["spec"]}
                        lease = {"metadata": {"name": name, "namespace": "kube-node-lease"}, "spec": spec}
                        coordination.create_namespaced_lease("kube-node-lease", lease)
                    self._node_status(name, ready=True)
                except Exception:
                    log.exception("heartbeat of %s failed", name)

    def _on_node(self, kind: str, node: dict) -> None:
        name = node["metadata"]["name"]
        if name not in self.nodes or kind == "DELETED":
            return
        on = (node["metadata"].get("annotations") or {}).get(POWER_ANNOTATION, "on") != "off"
        if on == self.powered[name]:
            return
        self.powered[name] = on
        log.warning("node %s powered %s", name, "on" if on else "off")
        with self.lock:
            runs = [r for r in self.pods.values() if r.node == name]
        if not on:
            for run in runs:
                run.kill()  # the host is gone: no SIGTERM, no grace
            self._node_status(name, ready=False)
            return
        self._node_status(name, ready=True)
        for run in runs:  # the kubelet comes back: finish deletions, restart what is still bound here
            run.resume()

    # -- pods -------------------------------------------------------------------------------------------------
    def _on_pod(self, kind: str, pod: dict) -> None:
        node = pod["spec"].get("nodeName")
        if node not in self.nodes:
            return
        uid = pod["metadata"]["uid"]
        with self.lock:
            run = self.pods.get(uid)
            if run is None and kind != "DELETED" and not pod["metadata"].get("deletionTimestamp"):
                ip = self.pod_ips.setdefault(uid, self._next_ip())
                run = self.pods[uid] = PodRun(self, pod, ip)
                if self.powered[node]:
                    threading.Thread(target=run.start, name=f"pod-{pod['metadata']['name']}", daemon=True).start()
                return
        if run is None:
            return
        if kind == "DELETED":
            run.kill()
            with self.lock:
                self.pods.pop(uid, None)
        elif pod["metadata"].get("deletionTimestamp") and self.powered[node]:
            run.delete(int(pod["metadata"].get("deletionGracePeriodSeconds") or 0))

    def _next_ip(self) -> str:
        n = next(self._ip_counter)
        return f"{POD_NETWORK}{n // 250}.{n % 250 + 1}"


class PodRun:
    """One pod: its root directory, volumes, containers and status."""

    def __init__(self, kubelet: Kubelet, pod: dict, ip: str) -> None:
        self.kubelet = kubelet
        self.pod = pod
        self.ip = ip  # in the API (status.podIP)
        self.local_ip = local_address(ip) or ip  # where its processes listen on this machine
        meta = pod["metadata"]
        self.name, self.namespace, self.node = meta["name"], meta["namespace"], pod["spec"]["nodeName"]
        self.root = kubelet.state_dir / "pods" / f"{self.namespace}_{self.name}"
        self.job = pod["spec"].get("restartPolicy") in ("Never", "OnFailure")
        self.containers = [ContainerRun(self, c) for c in pod["spec"]["containers"]]
        self.started_at = now()
        self.deleting = False
        self._status_lock = threading.Lock()

    def start(self) -> None:
        """Prepare and run the containers; while that fails (a Secret not created yet), retry, as a kubelet does."""
        while not self.deleting and not self.kubelet.stopping.is_set():
            try:
                volumes = self._materialise()
                services = self.kubelet.core.list_namespaced_service(self.namespace).items
                names = [s.metadata.name for s in services]
                for container in self.containers:
                    container.prepare(volumes, names)
                break
            except Exception as exc:
                log.warning("pod %s/%s cannot start yet: %s", self.namespace, self.name, exc)
                self.write_status(waiting=f"{type(exc).__name__}: {exc}")
                self.kubelet.stopping.wait(2)
        else:
            return
        for container in self.containers:
            container.run()
        self.write_status()

    def _materialise(self) -> dict[str, tuple[str, Path]]:
        """Volume name -> (kind, directory) with its files written."""
        out: dict[str, tuple[str, Path]] = {}
        for vol in self.pod["spec"].get("volumes") or []:
            path = self.root / "volumes" / vol["name"]
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            if "emptyDir" in vol:
                os.chmod(path, 0o2777)
                out[vol["name"]] = ("emptyDir", path)
                continue
            if "projected" in vol:  # the service account token the API server's admission adds to every pod
                self._project(vol["projected"], path)
                out[vol["name"]] = ("projected", path)
                continue
            if "configMap" in vol:
                src = vol["configMap"]
                obj = self.kubelet.core.read_namespaced_config_map(src["name"], self.namespace)
                data = {k: v.encode() for k, v in (obj.data or {}).items()}
            elif "secret" in vol:
                src = vol["secret"]
                try:
                    obj = self.kubelet.core.read_namespaced_secret(src["secretName"], self.namespace)
                except client.ApiException as exc:
                    if exc.status == 404 and src.get("optional"):
                        out[vol["name"]] = ("secret", path)
                        continue
                    raise
                data = {k: base64.b64decode(v) for k, v in (obj.data or {}).items()}
            else:
                raise ValueError(f"volume {vol['name']}: only configMap, secret and emptyDir are supported")
            items = src.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                if item["key"] not in data:
                    raise KeyError(f"volume {vol['name']}: no key {item['key']!r}")
                target = path / item["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data[item["key"]])
                os.chmod(target, item.get("mode", src.get("defaultMode", 0o644)))
            out[vol["name"]] = ("secret" if "secret" in vol else "configMap", path)
        return out

    def _project(self, projected: dict, path: Path) -> None:
        """Service account token (TokenRequest), ConfigMap keys and the namespace, as the kubelet writes them."""
        core = self.kubelet.core
        for source in projected.get("sources") or []:
            if "serviceAccountToken" in source:
                spec = {"expirationSeconds": source["serviceAccountToken"].get("expirationSeconds", 3600)}
                token = core.create_namespaced_service_account_token(
                    self.pod["spec"].get("serviceAccountName", "default"), self.namespace, {"spec": spec}
                )
                (path / source["serviceAccountToken"]["path"]).write_text(token.status.token)
            elif "configMap" in source:
                data = core.read_namespaced_config_map(source["configMap"]["name"], self.namespace).data or {}
                for item in source["configMap"].get("items") or [{"key": k, "path": k} for k in data]:
                    (path / item["path"]).write_text(data[item["key"]])
            elif "downwardAPI" in source:
                for item in source["downwardAPI"].get("items") or []:
                    if item.get("fieldRef", {}).get("fieldPath") != "metadata.namespace":
                        raise ValueError(f"projected downwardAPI {item}: only metadata.namespace is supported")
                    (path / item["path"]).write_text(self.namespace)
            else:
                raise ValueError(f"projected source {sorted(source)}: not supported")
        for file in path.iterdir():
            os.chmod(file, projected.get("defaultMode", 0o644))

    def resume(self) -> None:
        """The node is back: a pod deleted meanwhile is finished off, the others start again."""
        try:
            pod = self.kubelet.core.read_namespaced_pod(self.name, self.namespace)
        except client.ApiException:
            return
        if pod.metadata.deletion_timestamp:
            self.delete(0)
        else:
            for container in self.containers:
                container.run()

    def delete(self, grace: int) -> None:
        """SIGTERM, the grace period, SIGKILL; then confirm the deletion (remove the pod object)."""
        if self.deleting:
            return
        self.deleting = True

        def finish() -> None:
            for container in self.containers:
                container.terminate(grace)
            with contextlib.suppress(client.ApiException):
                self.kubelet.core.delete_namespaced_pod(self.name, self.namespace, grace_period_seconds=0)

        threading.Thread(target=finish, daemon=True).start()

    def kill(self) -> None:
        for container in self.containers:
            container.kill()

    def write_status(self, waiting: str = "") -> None:
        """Phase, conditions and container statuses from the processes and probes, through the API."""
        if self.deleting or not self.kubelet.powered[self.node]:
            return
        with self._status_lock:
            statuses = [c.status(waiting) for c in self.containers]
            ready = all(s["ready"] for s in statuses)
            exits = [c.exit_code for c in self.containers]
            if self.job and all(e is not None for e in exits):
                phase = "Succeeded" if all(e == 0 for e in exits) else "Failed"
            else:
                phase = "Pending" if waiting else "Running"
            stamp = now()
            conditions = [
                {"type": "Initialized", "status": "True", "lastTransitionTime": stamp},
                {"type": "ContainersReady", "status": str(ready), "lastTransitionTime": stamp},
                {"type": "Ready", "status": str(ready), "lastTransitionTime": stamp},
            ]
            status = {
                "phase": phase,
                "conditions": conditions,
                "containerStatuses": statuses,
                "hostIP": "127.0.0.1",
                "hostIPs": [{"ip": "127.0.0.1"}],
                "podIP": self.ip,
                "podIPs": [{"ip": self.ip}],
                "startTime": self.started_at,
            }
            try:
                self.kubelet.core.patch_namespaced_pod_status(self.name, self.namespace, {"status": status})
            except client.ApiException as exc:
                if exc.status != 404:
                    log.warning("status of %s/%s not written: %s", self.namespace, self.name, exc.reason)


class ContainerRun:
    """One container as a process, with its probes and the restart policy of its pod."""

    def __init__(self, pod: PodRun, spec: dict) -> None:
        self.pod = pod
        self.spec = spec
        self.name = spec["name"]
        self.root = pod.root / "containers" / self.name
        self.proc: subprocess.Popen | None = None
        self.exit_code: int | None = None
        self.restarts = 0
        self.ready = False
        self.started = False
        self.argv: list[str] = []
        self.env: dict[str, str] = {}
        self.cwd = str(self.root)
        self._lock = threading.Lock()
        self._generation = 0  # bumped on every (re)start: a probe thread of an older process stops
        self.log_path = pod.root / f"{self.name}.log"

    # -- preparing: mounts, paths, names, environment ------------------------------------------------------------
    def prepare(self, volumes: dict[str, tuple[str, Path]], services: list[str]) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        mounts = {}
        for m in self.spec.get("volumeMounts") or []:
            kind, source = volumes[m["name"]]
            target = self.root / m["mountPath"].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if kind == "emptyDir":
                target.symlink_to(source, target_is_directory=True)  # shared by the pod's containers
            else:
                shutil.copytree(source, target, dirs_exist_ok=True, copy_function=shutil.copy2)
            mounts[m["mountPath"]] = str(target)
        rewrite = _rewriter(mounts, self.pod.namespace, services, self.pod.local_ip)
        env = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(self.root), "LANG": "C.UTF-8"}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPATH"] = SOURCES
        env["TMPDIR"] = mounts.get("/tmp", str(self.root))
        for var in self.spec.get("env") or []:
            env[var["name"]] = rewrite(self._value(var))
        self.env = env
        self.argv = [rewrite(a) for a in [*(self.spec.get("command") or []), *(self.spec.get("args") or [])]]
        if not self.argv:
            raise ValueError(f"container {self.name}: no command (the image's entrypoint is not known here)")
        self.cwd = rewrite(self.spec["workingDir"]) if self.spec.get("workingDir") else str(self.root)

    def _value(self, var: dict) -> str:
        if "value" in var:
            return str(var["value"])
        source = var.get("valueFrom") or {}
        core = self.pod.kubelet.core
        if "fieldRef" in source:
            fields = {
                "metadata.name": self.pod.name,
                "metadata.namespace": self.pod.namespace,
                "spec.nodeName": self.pod.node,
                "status.podIP": self.pod.ip,
            }
            return fields[source["fieldRef"]["fieldPath"]]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            data = core.read_namespaced_secret(ref["name"], self.pod.namespace).data or {}
            return base64.b64decode(data[ref["key"]]).decode()
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            return (core.read_namespaced_config_map(ref["name"], self.pod.namespace).data or {})[ref["key"]]
        raise ValueError(f"env {var['name']}: unsupported valueFrom {list(source)}")

    # -- running ----------------------------------------------------------------------------------------------
    def run(self) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
            self.exit_code, self.ready, self.started = None, False, False
            out = self.log_path.open("ab")
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=out, start_new_session=True
            )
            out.close()
        log.info("%s/%s %s: pid %d: %s", self.pod.namespace, self.pod.name, self.name, self.proc.pid, self.argv)
        threading.Thread(target=self._supervise, args=(generation,), daemon=True).start()

    def _supervise(self, generation: int) -> None:
        """Probe while the process lives; after it exits, restart it (Always) or report the exit (Jobs)."""
        startup = self.spec.get("startupProbe")
        readiness = self.spec.get("readinessProbe")
        liveness = self.spec.get("livenessProbe")
        failures = {"startup": 0, "readiness": 0, "liveness": 0}
        next_at = {"startup": 0.0, "readiness": 0.0, "liveness": 0.0}
        t0 = time.monotonic()
        proc = self.proc
        assert proc is not None
        while self._generation == generation and proc.poll() is None:
            t = time.monotonic() - t0
            if not self.started:
                if startup is None or self._probe("startup", startup, failures, next_at, t) is True:
                    self._set(started=True)
            else:
                if readiness is not None:
                    result = self._probe("readiness", readiness, failures, next_at, t)
                    if result is not None:
                        self._set(ready=result)
                elif not self.ready:
                    self._set(ready=True)
                if liveness is not None and self._probe("liveness", liveness, failures, next_at, t) is False:
                    log.warning("%s/%s %s: liveness failed, restarting", self.pod.namespace, self.pod.name, self.name)
                    self._stop_process(proc, 30)
                    break
            if startup is not None and not self.started and failures["startup"] >= startup.get("failureThreshold", 3):
                log.warning("%s/%s %s: startup probe failed, restarting", self.pod.namespace, self.pod.name, self.name)
                self._stop_process(proc, 30)
                break
            time.sleep(0.1)
        proc.wait()
        if self._generation != generation:
            return
        with self._lock:
            self.exit_code, self.ready = proc.returncode, False
        self.pod.write_status()
        if self.pod.deleting or not self.pod.kubelet.powered[self.pod.node] or self.pod.kubelet.stopping.is_set():
            return
        policy = self.pod.pod["spec"].get("restartPolicy", "Always")
        if policy == "Never" or (policy == "OnFailure" and proc.returncode == 0):
            return
        delay = min(BACKOFF_INITIAL_S * 2 ** min(self.restarts, 5), BACKOFF_MAX_S)
        if time.monotonic() - t0 > 600:
            delay = BACKOFF_INITIAL_S
        self.restarts += 1
        if not self.pod.kubelet.stopping.wait(delay) and self._generation == generation and not self.pod.deleting:
            self.run()

    def _probe(self, kind: str, probe: dict, failures: dict, next_at: dict, t: float) -> bool | None:
        """Run the probe if it is due; True/False once its threshold is reached, None otherwise."""
        if t < max(next_at[kind], probe.get("initialDelaySeconds", 0)):
            return None
        next_at[kind] = t + probe.get("periodSeconds", 10)
        ok = _check(probe, self.pod.local_ip, probe.get("timeoutSeconds", 1))
        if ok:
            failures[kind] = 0
            return True
        failures[kind] += 1
        return False if failures[kind] >= probe.get("failureThreshold", 3) else None

    def _set(self, **changes: bool) -> None:
        if all(getattr(self, k) == v for k, v in changes.items()):
            return
        for k, v in changes.items():
            setattr(self, k, v)
        self.pod.write_status()

    def status(self, waiting: str) -> dict[str, Any]:
        state: dict[str, Any]
        if waiting:
            state = {"waiting": {"reason": "CreateContainerConfigError", "message": waiting}}
        elif self.exit_code is not None:
            reason = "Completed" if self.exit_code == 0 else "Error"
            state = {"terminated": {"exitCode": self.exit_code, "reason": reason, "finishedAt": now()}}
        else:
            state = {"running": {"startedAt": self.pod.started_at}}
        return {
            "name": self.name,
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restarts,
            "image": self.spec.get("image", ""),
            "imageID": "",
            "state": state,
        }

    # -- stopping ---------------------------------------------------------------------------------------------
    def terminate(self, grace: int) -> None:
        with self._lock:
            self._generation += 1
            proc = self.proc
        if proc is not None:
            self._stop_process(proc, grace)

    def kill(self) -> None:
        with self._lock:
            self._generation += 1
            proc = self.proc
            self.ready = False
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    @staticmethod
    def _stop_process(proc: subprocess.Popen, grace: int) -> None:
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _rewriter(mounts: dict[str, str], namespace: str, services: list[str], pod_ip: str) -> Any:
    """What a string means inside the pod, said on this machine: mount paths under the pod's root, Service
    names as their loopback IPs, the wildcard address as the pod's own IP."""
    rules: list[tuple[re.Pattern[str], Any]] = []
    if mounts:
        paths = "|".join(re.escape(p) for p in sorted(mounts, key=len, reverse=True))
        rules.append((re.compile(rf"(?<![\w.-])({paths})(?=/|$|[^\w.-])"), lambda m: mounts[m.group(1)]))
    for svc in services:
        host = rf"(?<![\w.-]){re.escape(svc)}(?:\.{re.escape(namespace)}(?:\.svc(?:\.cluster\.local)?)?)?(?=:|$)"
        rules.append((re.compile(host), lambda _m, s=svc: service_ip(namespace, s)))
    rules.append((re.compile(r"(?<![\w.])0\.0\.0\.0(?=:)"), lambda _m: pod_ip))

    def rewrite(value: str) -> str:
        for pattern, replace in rules:
            value = pattern.sub(replace, value)
        return value

    return rewrite


def _check(probe: dict, ip: str, timeout: float) -> bool:
    if "grpc" in probe:
        g = probe["grpc"]
        with grpc.insecure_channel(f"{ip}:{g['port']}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=g.get("service", "")), timeout=timeout
                )
            except grpc.RpcError:
                return False
            return reply.status == health_pb2.HealthCheckResponse.SERVING
    if "tcpSocket" in probe:
        try:
            socket.create_connection((ip, probe["tcpSocket"]["port"]), timeout=timeout).close()
            return True
        except OSError:
            return False
    raise ValueError(f"probe {sorted(probe)}: only grpc and tcpSocket probes are supported")
