"""The validating webhook: the rules the CRD schema and CEL cannot state, by running the spec model itself.

What it adds over CEL: exact decimal checks (maker rebate vs taker fee), port collisions once defaults are
filled in, venue symbols among the instruments (too costly for CEL), and anything the model grows later. It also
refuses what the model allows only for the embedded desk (``spec.routing.outageSpool``), as the CRD does.
Errors are the model's own "field: rule" lines, so ``kubectl apply`` names the field.

The webhook needs TLS the API server trusts. Given ``TD_WEBHOOK_CERT``/``TD_WEBHOOK_KEY`` (a mounted Secret)
it uses them; otherwise it makes a self-signed certificate with ``openssl`` (kopf's own generator needs the
``certbuilder`` package, which the project does not depend on) and kopf puts it in the webhook's caBundle.
"""

from __future__ import annotations

import ipaddress
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from deskoperator.diff import quantity
from deskoperator.names import MAX_DESK_NAME, SERVICE_NAMES
from tradingdesk.spec.load import SpecError, parse_desk


def problems(document: dict[str, Any]) -> list[str]:
    """Every reason ``document`` is not a valid TradingDesk, one "field: rule" line each; [] when valid."""
    try:
        desk = parse_desk(document, "TradingDesk")
    except SpecError as exc:
        return list(exc.problems)
    out: list[str] = []
    if len(desk.name) > MAX_DESK_NAME:
        out.append(f"metadata.name: at most {MAX_DESK_NAME} characters (Services are named <desk>-<service>)")
    if not desk.name[:1].isalpha():
        out.append("metadata.name: must start with a letter (it names Services)")
    if desk.spec.routing.outage_spool:  # the CRD refuses it too; the model allows it, for the embedded desk
        out.append(
            "spec.routing.outageSpool: not yet on Kubernetes: a routing pod's spool would not outlive the pod, and a "
            "standby pod shares no disk with it (the embedded desk only)"
        )
    for service in SERVICE_NAMES:
        resources = getattr(desk.spec.services, service).resources
        for field in ("cpu", "memory"):
            value = getattr(resources, field)
            if quantity(value) is None:
                out.append(f"spec.services.{service}.resources.{field}: {value!r} is not a Kubernetes quantity")
    return out


def review(operation: str, body: dict[str, Any], old: dict[str, Any] | None) -> list[str]:
    """Problems to reject an admission request with; changes that leave the spec alone always pass.

    Why let them pass: kopf removes its finalizer with an UPDATE; a desk created before the webhook existed
    must still be deletable even if its spec would be refused today.
    """
    if operation not in ("CREATE", "UPDATE"):
        return []
    if body.get("metadata", {}).get("deletionTimestamp"):
        return []
    if operation == "UPDATE" and old is not None and old.get("spec") == body.get("spec"):
        return []
    return problems(body)


def self_signed(host: str, directory: Path | None = None) -> tuple[Path, Path]:
    """A certificate and key for ``host`` (an IP or DNS name), made with the openssl CLI."""
    out = Path(directory or tempfile.mkdtemp(prefix="deskoperator-webhook-"))
    cert, key = out / "tls.crt", out / "tls.key"
    try:
        ipaddress.ip_address(host)
        san = f"IP:{host}"
    except ValueError:
        san = f"DNS:{host}"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "365", "-subj", f"/CN={host}",
            "-addext", f"subjectAltName={san}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
