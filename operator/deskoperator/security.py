"""The security context every pod the operator creates runs with: a fixed non-root user, no privilege, a
read-only root filesystem, the runtime's default seccomp profile. One place, so a Job can never run looser
than the services."""

from __future__ import annotations

from typing import Any

RUN_AS_USER = 10001


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
