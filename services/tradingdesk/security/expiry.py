"""``tradingdesk_tls_certificate_expiry_timestamp_seconds``: when the certificate a service serves expires.

Read from the certificate file at every scrape, so a rotated certificate (the operator rewrites the Secret, the
kubelet the mounted file) shows its new expiry without a restart. The alerts CertificateExpiringSoon and
CertificateExpiryImminent read it (docs/monitoring.md); ``desk`` and ``service`` come from the scrape.
"""

from __future__ import annotations

import logging

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from tradingdesk.security.pki import not_after
from tradingdesk.security.tls import TlsFiles

log = logging.getLogger(__name__)

METRIC = "tradingdesk_tls_certificate_expiry_timestamp_seconds"


def export_certificate_expiry(tls: TlsFiles, meter: metrics.Meter | None = None) -> None:
    """Export the expiry of ``tls.cert`` as a gauge (seconds since the epoch); nothing while it cannot be read."""
    meter = meter or metrics.get_meter("tradingdesk.security")

    def observe(_: CallbackOptions) -> list[Observation]:
        try:
            return [Observation(not_after(tls.cert.read_bytes()).timestamp())]
        except (OSError, ValueError) as exc:  # mid-rotation or missing: no sample rather than a wrong one
            log.warning("certificate expiry not readable from %s: %s", tls.cert, exc)
            return []

    meter.create_observable_gauge(METRIC, [observe], description="When the certificate this service serves expires.")
