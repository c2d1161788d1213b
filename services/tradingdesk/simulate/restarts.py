"""Restarts the fault schedule did not ask for: a service the supervisor restarted more often than it was killed.

The supervisor counts every restart of a service (``supervision.json``, ``monitoring.restarts``), whatever ended
the process: a SIGKILL of the schedule, a crash, or an exit of its own (a writer fenced off exits 75). Each SIGKILL
the injector applied (``faults.jsonl``, ``what: killed``) accounts for one restart of its service; any restart
beyond that is the desk failing on its own, which the verdict must not let pass as a survived fault. The full day
found one this way: risk fenced off by a database outage it should have ridden through.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tradingdesk.monitoring.restarts import SUPERVISION_STATUS_FILE


def unscheduled_restarts(log_dir: Path, fault_events: list[dict]) -> list[str]:
    """One line per service restarted more often than the schedule killed it, with the last exit the supervisor
    saw ("risk: 2 restarts, 1 SIGKILL (last exit: exit code 75)"); empty when every restart was a kill's. A run
    without a status file (no supervisor) has nothing to say."""
    path = log_dir / SUPERVISION_STATUS_FILE
    if not path.exists():
        return []
    services = json.loads(path.read_text()).get("services", {})
    killed = Counter(
        e.get("target", {}).get("service", "")
        for e in fault_events
        if e.get("kind") == "sigkill" and e.get("what") == "killed"
    )
    found = []
    for name, entry in sorted(services.items()):
        restarts = int(entry.get("restarts", 0))
        if restarts > killed[name]:
            found.append(
                f"{name}: {restarts} restart(s), {killed[name]} SIGKILL(s) "
                f"(last exit: {entry.get('lastExit') or 'unknown'})"
            )
    return found


__all__ = ["unscheduled_restarts"]
