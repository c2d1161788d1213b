"""The validating webhook's server and its ``ValidatingWebhookConfiguration``, in every replica.

Why not kopf's webhook server: kopf runs only in the replica that holds the leadership Lease, and a webhook
served by one pod is down whenever that pod is. Here every replica serves it (behind the chart's Service, with a
readiness probe and a PodDisruptionBudget), leader or not.

Failure policy: **Ignore**. The webhook only adds what CEL cannot say (``webhook.py``); the schema and CEL rules
are in the CRD and never depend on it. With ``Fail``, a webhook that is down would stop ``kubectl`` from changing
any desk, including the kill switch in ``spec.tradingState``: a halt must always be writable. A spec that slips
through while the webhook is down is refused by the operator instead (``Ready=False, InvalidSpec``), and the
operator still delivers its trading state.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
from pathlib import Path
from typing import Any

import aiohttp.web

from deskoperator import webhook
from deskoperator.crd import PLURAL
from deskoperator.kube import Kube
from deskoperator.names import API_GROUP, API_VERSION, FIELD_MANAGER

log = logging.getLogger(__name__)

CONFIGURATION = f"{API_GROUP}.validating"
WEBHOOK_NAME = f"spec.{CONFIGURATION}"
PATH = "/validate"
FAILURE_POLICY = "Ignore"
TIMEOUT_SECONDS = 5


def decide(review: dict[str, Any]) -> dict[str, Any]:
    """An AdmissionReview response for an AdmissionReview request (v1)."""
    request = review.get("request") or {}
    found = webhook.review(request.get("operation", ""), request.get("object") or {}, request.get("oldObject"))
    response: dict[str, Any] = {"uid": request.get("uid", ""), "allowed": not found}
    if found:
        response["status"] = {"code": 422, "reason": "Invalid", "message": "invalid TradingDesk: " + "; ".join(found)}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


async def _handle(request: aiohttp.web.Request) -> aiohttp.web.Response:
    try:
        review = await request.json()
    except (ValueError, UnicodeDecodeError):
        return aiohttp.web.Response(status=400, text="expected an AdmissionReview (JSON)")
    # a large desk takes a moment to validate: never on the loop that runs the workers and the health checks
    return aiohttp.web.json_response(await asyncio.to_thread(decide, review))


async def serve(*, addr: str, port: int, cert: Path, key: Path) -> aiohttp.web.AppRunner:
    """Start the HTTPS webhook server; the caller cleans the runner up at shutdown."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    app = aiohttp.web.Application(client_max_size=8 * 1024 * 1024)  # the largest desk is ~1.5 MiB, twice in a review
    app.router.add_post(PATH, _handle)
    runner = aiohttp.web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, addr, port, ssl_context=context).start()
    log.info("validating webhook serving on https://%s:%d%s", addr, port, PATH)
    return runner


def configuration(*, ca_bundle: bytes, url: str = "", service: tuple[str, str, int] | None = None) -> dict[str, Any]:
    """The ValidatingWebhookConfiguration: by URL (an operator outside the cluster) or by Service (in it)."""
    client: dict[str, Any] = {"caBundle": base64.b64encode(ca_bundle).decode()}
    if service is not None:
        namespace, name, port = service
        client["service"] = {"namespace": namespace, "name": name, "port": port, "path": PATH}
    else:
        client["url"] = url
    rule = {
        "apiGroups": [API_GROUP],
        "apiVersions": [API_VERSION],
        "operations": ["CREATE", "UPDATE"],
        "resources": [PLURAL],
        "scope": "Namespaced",
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": CONFIGURATION, "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER}},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "clientConfig": client,
                "rules": [rule],
                "failurePolicy": FAILURE_POLICY,
                "sideEffects": "None",
                "timeoutSeconds": TIMEOUT_SECONDS,
                "admissionReviewVersions": ["v1"],
                "matchPolicy": "Equivalent",
            }
        ],
    }


def ensure_configuration(kube: Kube, config: dict[str, Any]) -> None:
    """Server-side apply the configuration (every replica may; they all write the same one)."""
    kube.apply_webhook_configuration(json.loads(json.dumps(config)))
