"""Services on loopback: one IP per Service, a listener per port, each connection sent to a ready endpoint.

The ready endpoints come from the Service's EndpointSlices, which the real endpointslice controller writes from
the pods' Ready conditions. With no ready endpoint the port is closed, so a client's connect is refused at once
(kube-proxy rejects the same way) and its reconnect lands on whichever pod becomes ready next.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import socket
import threading

log = logging.getLogger("podharness.proxy")

Backend = tuple[str, int]


#: Pod IPs as the API server sees them (the API refuses loopback endpoints) and where each pod listens here.
POD_NETWORK, POD_LOOPBACK = "10.245.", "127.10."


def local_address(pod_ip: str) -> str | None:
    """The loopback address of a pod the harness runs (10.245.b.c listens on 127.10.b.c); None for others."""
    return POD_LOOPBACK + pod_ip.removeprefix(POD_NETWORK) if pod_ip.startswith(POD_NETWORK) else None


def service_ip(namespace: str, name: str) -> str:
    """The loopback IP of a Service, a pure function of its name so a test can know it before it exists:
    127.64-127.x.y (pods listen on 127.10.x.y)."""
    h = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return f"127.{64 + h[0] % 64}.{h[1]}.{1 + h[2] % 254}"


class PortProxy:
    """One Service port: open while it has ready backends, forwarding each connection to the next one."""

    def __init__(self, ip: str, port: int, label: str) -> None:
        self.ip, self.port, self.label = ip, port, label
        self._backends: list[Backend] = []
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def set_backends(self, backends: list[Backend]) -> None:
        with self._lock:
            if backends == self._backends:
                return
            self._backends = backends
            if backends and self._listener is None:
                self._open()
            elif not backends and self._listener is not None:
                self._close()
        log.info("%s -> %s", self.label, ", ".join(f"{h}:{p}" for h, p in backends) or "no ready endpoint")

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.ip, self.port))
        sock.listen(128)
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), name=f"accept-{self.label}", daemon=True).start()

    def _close(self) -> None:
        sock, self._listener = self._listener, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _pick(self) -> Backend | None:
        with self._lock:
            if not self._backends:
                return None
            return self._backends[next(self._next) % len(self._backends)]

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                client, _ = sock.accept()
            except OSError:
                return  # closed: no ready endpoint any more
            backend = self._pick()
            if backend is None:
                client.close()
                continue
            threading.Thread(target=_forward, args=(client, backend), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._close()


def _forward(client: socket.socket, backend: Backend) -> None:
    try:
        upstream = socket.create_connection(backend, timeout=5)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    for s in (client, upstream):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    done = threading.Event()
    threading.Thread(target=_pump, args=(upstream, client, done), daemon=True).start()
    _pump(client, upstream, done)


def _pump(src: socket.socket, dst: socket.socket, done: threading.Event) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        if done.is_set():  # the other direction ended first: close both
            for s in (src, dst):
                s.close()
        else:
            done.set()
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                dst.close()
                src.close()


class ServiceProxies:
    """Every Service's ports, fed by ``on_service`` and ``on_endpoint_slice`` (from the API's watch events)."""

    def __init__(self) -> None:
        self._ports: dict[tuple[str, str, str], PortProxy] = {}  # (namespace, service, port name) -> proxy
        self._slices: dict[tuple[str, str], dict[str, dict[str, list[Backend]]]] = {}
        self._lock = threading.Lock()

    def on_service(self, kind: str, svc: dict) -> None:
        if not svc["spec"].get("selector"):
            return  # no pods behind it (the API server's own Service)
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        with self._lock:
            if kind == "DELETED":
                for key in [k for k in self._ports if k[:2] == (ns, name)]:
                    self._ports.pop(key).close()
                return
            for port in svc["spec"].get("ports", []):
                key = (ns, name, port.get("name", ""))
                if key not in self._ports and port.get("protocol", "TCP") == "TCP":
                    self._ports[key] = PortProxy(service_ip(ns, name), port["port"], f"{ns}/{name}:{port['port']}")
            self._apply(ns, name)

    def on_endpoint_slice(self, kind: str, eps: dict) -> None:
        meta = eps["metadata"]
        service = (meta.get("labels") or {}).get("kubernetes.io/service-name")
        if not service:
            return
        key = (meta["namespace"], service)
        with self._lock:
            slices = self._slices.setdefault(key, {})
            if kind == "DELETED":
                slices.pop(meta["name"], None)
            else:
                slices[meta["name"]] = _ready_backends(eps)
            self._apply(*key)

    def _apply(self, ns: str, name: str) -> None:
        merged: dict[str, list[Backend]] = {}
        for by_port in self._slices.get((ns, name), {}).values():
            for port_name, backends in by_port.items():
                merged.setdefault(port_name, []).extend(backends)
        for (pns, pname, port_name), proxy in self._ports.items():
            if (pns, pname) == (ns, name):
                proxy.set_backends(sorted(merged.get(port_name, [])))

    def close(self) -> None:
        with self._lock:
            for proxy in self._ports.values():
                proxy.close()
            self._ports.clear()


def _ready_backends(eps: dict) -> dict[str, list[Backend]]:
    """Ready endpoints of pods the harness runs, at their loopback addresses (kwok's pods run nothing)."""
    ready = [
        local
        for ep in eps.get("endpoints") or []
        if (ep.get("conditions") or {}).get("ready")
        for addr in ep.get("addresses") or []
        if (local := local_address(addr))
    ]
    return {p.get("name", ""): [(a, p["port"]) for a in ready] for p in eps.get("ports") or [] if p.get("port")}
