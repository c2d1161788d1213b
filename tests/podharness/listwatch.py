"""List, then watch, the way an informer does: nothing the harness acts on is ever missed.

A watch the API server ends (``timeout_seconds``, or a dropped connection) used to be started again from nothing:
the server then sent every object again as ADDED, and an object deleted in between never came as DELETED at all.
For the harness that meant a pod whose processes were never stopped, or a deleted EndpointSlice whose endpoints
stayed behind a Service's port. Here a watch resumes from the last resourceVersion it saw; only when the server no
longer has that version (410 Gone), or a handler failed, is the kind listed again, and every object known before
and missing from the list is handed to the handler as DELETED. A watch whose connection goes silent without the
server ending it counts as lost once the server's end of it is ``READ_GRACE_S`` overdue.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch

log = logging.getLogger("podharness")

Handler = Callable[[str, dict[str, Any]], None]

WATCH_TIMEOUT_S = 300
READ_GRACE_S = 30
"""How long past the server's own end of a watch the harness waits for it; then the connection counts as lost."""
RETRY_S = 1.0


def list_and_watch(list_fn: Callable[..., Any], handler: Handler, stopping: threading.Event) -> None:
    """Hand ``handler(kind, raw_object)`` every change of what ``list_fn`` lists, until ``stopping`` is set."""
    known: dict[str, dict[str, Any]] = {}  # uid -> the object as last handed over
    version: str | None = None  # where the next watch resumes; None: list again first
    while not stopping.is_set():
        try:
            if version is None:
                version = _relist(list_fn, handler, known)
            events = watch.Watch().stream(
                list_fn,
                resource_version=version,
                timeout_seconds=WATCH_TIMEOUT_S,
                _request_timeout=WATCH_TIMEOUT_S + READ_GRACE_S,  # a connection gone silent ends too
            )
            for event in events:
                kind, obj = event["type"], event["raw_object"]
                if kind != "BOOKMARK":
                    uid = obj["metadata"]["uid"]
                    if kind == "DELETED":
                        known.pop(uid, None)
                    else:
                        known[uid] = obj
                    handler(kind, obj)
                version = obj["metadata"]["resourceVersion"]  # handed over: the next watch starts after it
        except client.ApiException as exc:
            if exc.status != 410 and not stopping.is_set():
                log.warning("watch %s failed (%s); again", list_fn.__name__, exc.status)
                stopping.wait(RETRY_S)
            version = None  # 410: the version expired; otherwise where the watch stood is not known for sure
        except Exception:
            if not stopping.is_set():
                log.exception("watch %s failed; listing again", list_fn.__name__)
                stopping.wait(RETRY_S)
            version = None


def _relist(list_fn: Callable[..., Any], handler: Handler, known: dict[str, dict[str, Any]]) -> str:
    """List every object, hand over the gone ones as DELETED and the rest as ADDED or MODIFIED; the list's
    resourceVersion, where the next watch starts."""
    body = json.loads(list_fn(_preload_content=False).data)
    items = {item["metadata"]["uid"]: item for item in body.get("items") or []}
    for uid in [uid for uid in known if uid not in items]:
        handler("DELETED", known.pop(uid))
    for uid, item in items.items():
        kind = "MODIFIED" if uid in known else "ADDED"
        known[uid] = item
        handler(kind, item)
    return body["metadata"]["resourceVersion"]
