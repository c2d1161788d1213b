"""The desk's monitoring objects: its alert rules and scraping, for the Prometheus the cluster runs.

Where the Prometheus Operator's CRDs are installed, a ``PrometheusRule`` (the rules generated from the spec)
and a ``ServiceMonitor`` (every service's ``metrics`` port, with the ``desk`` and ``service`` labels the rules
select on). Always, a ConfigMap ``<desk>-monitoring`` with the same rules, a plain Prometheus scrape job and the
Alertmanager configuration, for clusters whose Prometheus is configured by hand and for the Alertmanager
(whose configuration is cluster-wide, so the operator does not install it). Nothing when metrics are off.

With the desk's TLS on, /metrics speaks HTTPS and admits Prometheus by its client certificate: both the
ServiceMonitor's ``tlsConfig`` and the plain scrape job's ``tls_config`` use the Secret ``<desk>-prometheus-tls``
the operator issues (``certificates``), and check each service's certificate against ``scrape_server_name``
(Prometheus scrapes pod addresses). A hand-configured Prometheus mounts that Secret at
``/etc/prometheus/secrets/<desk>-prometheus-tls`` (where the Prometheus Operator mounts a Prometheus's
``spec.secrets``; in another namespace, a copy of it).
"""

from __future__ import annotations

from typing import Any

import yaml

from deskoperator.names import COMPONENT_LABEL, INSTANCE_LABEL, child_name, selector_labels
from deskoperator.podtls import scrape_server_name, scraper_secret_name
from tradingdesk.spec.alerting import alertmanager_config, rule_groups, scrape_tls
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk

PROMETHEUS_OPERATOR_API = "monitoring.coreos.com/v1"
KINDS = {"PrometheusRule": "prometheusrules", "ServiceMonitor": "servicemonitors"}
PROMETHEUS_SECRETS_DIR = "/etc/prometheus/secrets"


def _meta_label(name: str) -> str:
    """``app.kubernetes.io/instance`` -> ``__meta_kubernetes_service_label_app_kubernetes_io_instance``."""
    return "__meta_kubernetes_service_label_" + "".join(c if c.isalnum() else "_" for c in name)


def monitoring_ports(desk: TradingDesk, service: str) -> list[tuple[str, int]]:
    """Named ports a service's pods serve besides gRPC: /metrics on each, the dashboard on monitoring."""
    out = []
    if desk.spec.monitoring.metrics_port:
        out.append(("metrics", desk.spec.monitoring.metrics_port))
    if service == "monitoring" and desk.spec.monitoring.dashboard_port:
        out.append(("dashboard", desk.spec.monitoring.dashboard_port))
    return out


def config_map_name(desk: str) -> str:
    return f"{desk}-monitoring"


def scrape_job(desk: TradingDesk, namespace: str) -> dict[str, Any]:
    """A Prometheus scrape job for the desk's Services, for a Prometheus without the operator."""
    every = f"{desk.spec.monitoring.alerts.scrape_interval_seconds}s"
    port = desk.spec.monitoring.metrics_port
    tls = {}
    if desk.spec.access.tls:
        files = f"{PROMETHEUS_SECRETS_DIR}/{scraper_secret_name(desk.name)}"
        tls = scrape_tls(
            ca_file=f"{files}/ca.crt",
            cert_file=f"{files}/tls.crt",
            key_file=f"{files}/tls.key",
            server_name=scrape_server_name(desk.name, namespace),
        )
    return {
        "job_name": f"tradingdesk-{namespace}-{desk.name}",
        "scrape_interval": every,
        "scrape_timeout": every,
        **tls,
        "static_configs": [
            {
                "targets": [f"{child_name(desk.name, s)}.{namespace}.svc:{port}"],
                "labels": {"desk": desk.name, "service": s, "namespace": namespace},
            }
            for s in SERVICE_NAMES
        ],
    }


def service_monitor_tls(desk: TradingDesk, namespace: str) -> dict[str, Any]:
    """HTTPS with Prometheus' client certificate from its Secret, for a ServiceMonitor endpoint (TLS on)."""
    if not desk.spec.access.tls:
        return {}
    secret = scraper_secret_name(desk.name)
    return {
        "scheme": "https",
        "tlsConfig": {
            "ca": {"secret": {"name": secret, "key": "ca.crt"}},
            "cert": {"secret": {"name": secret, "key": "tls.crt"}},
            "keySecret": {"name": secret, "key": "tls.key"},
            "serverName": scrape_server_name(desk.name, namespace),
        },
    }


def monitoring_objects(
    desk: TradingDesk, namespace: str, meta: Any, *, prometheus_operator: bool
) -> list[dict[str, Any]]:
    """The desk's monitoring children; ``meta(name)`` gives each its metadata (labels, owner)."""
    if not desk.spec.monitoring.metrics_port:
        return []
    rules = rule_groups(desk)
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(config_map_name(desk.name)),
            "data": {
                "rules.yml": yaml.safe_dump(rules, sort_keys=False, width=1000),
                "scrape.yml": yaml.safe_dump({"scrape_configs": [scrape_job(desk, namespace)]}, sort_keys=False),
                "alertmanager.yml": yaml.safe_dump(alertmanager_config(desk), sort_keys=False),
            },
        }
    ]
    if not prometheus_operator:
        return objects
    every = f"{desk.spec.monitoring.alerts.scrape_interval_seconds}s"
    objects.append(
        {"apiVersion": PROMETHEUS_OPERATOR_API, "kind": "PrometheusRule", "metadata": meta(desk.name), "spec": rules}
    )
    objects.append(
        {
            "apiVersion": PROMETHEUS_OPERATOR_API,
            "kind": "ServiceMonitor",
            "metadata": meta(desk.name),
            "spec": {
                "selector": {"matchLabels": selector_labels(desk.name)},
                "namespaceSelector": {"matchNames": [namespace]},
                "endpoints": [
                    {
                        "port": "metrics",
                        "interval": every,
                        "scrapeTimeout": every,
                        **service_monitor_tls(desk, namespace),
                        "relabelings": [
                            {"sourceLabels": [_meta_label(INSTANCE_LABEL)], "targetLabel": "desk"},
                            {"sourceLabels": [_meta_label(COMPONENT_LABEL)], "targetLabel": "service"},
                        ],
                    }
                ],
            },
        }
    )
    return objects


class PrometheusOperatorProbe:
    """Whether the cluster serves the Prometheus Operator's PrometheusRule and ServiceMonitor. Asked at every
    reconcile (one discovery GET): the CRDs may be installed, or removed, while the operator runs."""

    def __init__(self, kube: Any) -> None:
        self.kube = kube

    def __call__(self) -> bool:
        return set(KINDS.values()) <= self.kube.served(PROMETHEUS_OPERATOR_API)
