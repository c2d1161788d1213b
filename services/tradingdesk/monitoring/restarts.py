"""Restarts of the desk's processes, as the embedded runtime's supervisor counts them.

The supervisor (``runtime/supervisor.py``) rewrites its status file atomically on every change; the runtime
names that file to the monitoring service in ``TD_SUPERVISION_STATUS``. Reading it is how the desk's own
checks (no Prometheus needed) see a service that crashed and came back between two health probes, which a
probe alone would miss: a restart after 200 ms of backoff is over before the next probe. On Kubernetes there
is no such file; Prometheus' ``ServiceRestarted`` rule reads ``process_start_time_seconds`` instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
SUPERVISION_STATUS_ENV = "TD_SUPERVISION_STATUS"
SUPERVISION_STATUS_FILE = "supervision.json"
RECENT_RESTART_S = 900
"""A restart this recent raises ``ServiceRestarted`` (the Prometheus rule's window: 15 minutes)."""


@dataclass(frozen=True, slots=True)
class Restarts:
    count: int
    last_ns: int
    """Wall clock, ns since the epoch; 0 when never restarted."""


def read_restarts(path: Path | None) -> dict[str, Restarts]:
    """Each supervised service's restarts; empty when there is no file (no supervisor, or not written yet). A
    file that cannot be read is logged and treated as empty: the checks then miss a restart, never invent one."""
    if path is None:
        return {}
    try:
        doc = json.loads(path.read_text())
        return {
            name: Restarts(int(entry.get("restarts", 0)), int(entry.get("lastRestartNs", 0)))
            for name, entry in doc.get("services", {}).items()
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        log.warning("monitoring: cannot read the supervisor's status %s: %s", path, exc)
        return {}
