"""Names, labels and annotations shared by everything the operator renders and watches.

Kept in one place because the watchers select children by these labels: a renamed label in one module and not
in another would silently stop drift repair and status.
"""

from __future__ import annotations

from tradingdesk.spec.model import API_GROUP, API_VERSION, KIND, SERVICE_NAMES

__all__ = ["API_GROUP", "API_VERSION", "KIND", "SERVICE_NAMES"]

FIELD_MANAGER = "tradingdesk-operator"
ACTOR = "tradingdesk-operator"

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
APP_NAME = "tradingdesk"

CONFIG_HASH_ANNOTATION = f"{API_GROUP}/config-hash"
POD_VERSION_ANNOTATION = f"{API_GROUP}/pod-version"
RENDERED_HASH_ANNOTATION = f"{API_GROUP}/rendered-hash"
COLOCATION_LABEL = f"{API_GROUP}/colocation"
HOSTNAME_LABEL = "kubernetes.io/hostname"

SPEC_MOUNT = "/etc/tradingdesk"
SPEC_FILE = "desk.yaml"
DATA_MOUNT = "/var/lib/tradingdesk"

# Longest desk name whose children fit Kubernetes' 63-character DNS-1035 names: "<desk>-compliance".
MAX_DESK_NAME = 63 - len("-") - max(len(s) for s in SERVICE_NAMES)


def child_name(desk: str, service: str) -> str:
    return f"{desk}-{service}"


def config_map_name(desk: str) -> str:
    return f"{desk}-spec"


def selector_labels(desk: str, service: str | None = None) -> dict[str, str]:
    """Labels that select a desk's pods (or one service's); stable for the life of a Deployment."""
    labels = {NAME_LABEL: APP_NAME, INSTANCE_LABEL: desk}
    if service:
        labels[COMPONENT_LABEL] = service
    return labels


def labels(desk: str, service: str | None = None) -> dict[str, str]:
    return {**selector_labels(desk, service), MANAGED_BY_LABEL: FIELD_MANAGER}


def owned_selector() -> str:
    """Label selector of every object any desk owns (what the watchers list)."""
    return f"{NAME_LABEL}={APP_NAME},{MANAGED_BY_LABEL}={FIELD_MANAGER}"
