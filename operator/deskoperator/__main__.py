"""``python -m deskoperator``: run the operator (all namespaces, or ``--namespace`` ones).

Every replica serves health (``/healthz``, ``/readyz``), metrics and, with ``--webhook``, the validating webhook.
Only the holder of the leadership Lease runs kopf and acts on desks; the others wait, saying for whom. Losing the
Lease ends the process (exit 1), so two replicas never act at once; a clean stop releases it for a quick takeover.

Why not ``kopf run``: the settings (leadership, storage, webhook, metrics) belong to the operator, not to each
person's command line; this entry point always starts it the same way, in a pod or on a laptop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp.web
import kopf

from deskoperator import admission, handlers, metrics, webhook
from deskoperator.config import Config, from_args
from deskoperator.kube import Kube, load_api_client
from deskoperator.leader import Elector, LeaseConfig

log = logging.getLogger("deskoperator")


class QuietWatchers(logging.Filter):
    """Drop kopf's per-event "Handler 'watch-...' succeeded" lines: one per child change drowns the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return not (record.levelno <= logging.INFO and text.startswith(("Handler 'watch-", "Handler 'desk'")))


class Health:
    """``/healthz``: the process and its loop answer. ``/readyz``: it can serve admission requests."""

    def __init__(self) -> None:
        self.ready = False

    async def serve(self, url: str) -> aiohttp.web.AppRunner:
        parts = urlsplit(url)

        async def healthz(_: aiohttp.web.Request) -> aiohttp.web.Response:
            return aiohttp.web.Response(text="ok")

        async def readyz(_: aiohttp.web.Request) -> aiohttp.web.Response:
            return aiohttp.web.Response(text="ok") if self.ready else aiohttp.web.Response(status=503, text="starting")

        app = aiohttp.web.Application()
        app.router.add_get(parts.path or "/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        runner = aiohttp.web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await aiohttp.web.TCPSite(runner, parts.hostname or "0.0.0.0", parts.port or 8080).start()
        return runner


async def start_webhook(cfg: Config, kube: Kube) -> aiohttp.web.AppRunner:
    """Serve the webhook and (re)write its configuration; every replica does both."""
    host = cfg.webhook_host or ("127.0.0.1" if cfg.webhook_addr in ("0.0.0.0", "127.0.0.1") else cfg.webhook_addr)
    cert, key = (Path(cfg.webhook_cert), Path(cfg.webhook_key)) if cfg.webhook_cert else webhook.self_signed(host)
    runner = await admission.serve(addr=cfg.webhook_addr, port=cfg.webhook_port, cert=cert, key=key)
    ca = Path(cfg.webhook_ca).read_bytes() if cfg.webhook_ca else cert.read_bytes()
    if cfg.webhook_service:
        namespace, _, name = cfg.webhook_service.partition("/")
        config = admission.configuration(ca_bundle=ca, service=(namespace, name, cfg.webhook_port))
    else:
        config = admission.configuration(ca_bundle=ca, url=f"https://{host}:{cfg.webhook_port}{admission.PATH}")
    await asyncio.to_thread(admission.ensure_configuration, kube, config)
    return runner


async def run(cfg: Config) -> int:
    health = Health()
    runners = [await health.serve(cfg.liveness)] if cfg.liveness else []  # "" turns the health server off
    if cfg.metrics_port:
        runners.append(await metrics.serve(cfg.metrics_port))
    kube = Kube(load_api_client())
    if cfg.webhook:
        runners.append(await start_webhook(cfg, kube))
    health.ready = True

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    elector = Elector(
        kube,
        LeaseConfig(
            namespace=cfg.lease_namespace,
            name=cfg.lease_name,
            identity=cfg.identity,
            lease_seconds=cfg.lease_seconds,
            preempt=cfg.preempt,
        ),
    )
    lost = False
    try:
        acquiring = asyncio.create_task(elector.acquire())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            acquiring.cancel()
            return 0
        if not cfg.namespaces:
            handlers.watch_nodes()
        keeping = asyncio.create_task(elector.keep())
        kopf_stop = asyncio.Event()
        operator = asyncio.create_task(
            kopf.operator(
                standalone=True,
                clusterwide=not cfg.namespaces,
                namespaces=list(cfg.namespaces),
                stop_flag=kopf_stop,
                memo=kopf.Memo(config=cfg, elector=elector),
            )
        )
        # kopf installs its own SIGINT/SIGTERM handlers: then it stops by itself and ``operator`` finishes.
        await asyncio.wait({operator, keeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
        lost = elector.lost.is_set()
        kopf_stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await operator
        keeping.cancel()
        if not lost:
            await asyncio.to_thread(elector.release)
        stopping.cancel()
    finally:
        for runner in runners:
            await runner.cleanup()
    return 1 if lost else 0


def main(argv: list[str] | None = None) -> int:
    cfg = from_args(argv)
    logging.basicConfig(
        level=os.environ.get("TD_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kopf.objects").addFilter(QuietWatchers())
    return asyncio.run(run(cfg))


if __name__ == "__main__":
    sys.exit(main())
