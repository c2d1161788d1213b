"""A local receiver that implements the PagerDuty Events API v2 contract, for the paging tests.

``POST /v2/enqueue`` validates every field the way the real endpoint documents it
(https://developer.pagerduty.com/docs/events-api-v2/trigger-events/): ``routing_key`` (the one expected),
``event_action`` (trigger, acknowledge, resolve), ``dedup_key`` (required to acknowledge or resolve, at most 255
characters), and for a trigger the ``payload`` with ``summary`` (at most 1024 characters), ``source`` and
``severity`` (critical, error, warning, info), optional ``timestamp`` (ISO 8601), ``component``, ``group``,
``class`` and ``custom_details`` (an object). A valid event gets 202 with its dedup_key; an invalid one 400 with
the reasons. Every ``throttle_every``-th request gets 429 instead (before validation), as the real API does
under rate limiting, so the sender's retries are exercised.

It keeps incidents the way PagerDuty does: a trigger opens (or re-triggers) the incident of its dedup_key, an
acknowledge acknowledges it, a resolve resolves it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")


@dataclass
class Received:
    at: float  # time.time() when it arrived
    status: int  # what the receiver answered
    body: dict[str, Any]
    errors: list[str] = field(default_factory=list)


@dataclass
class Incident:
    dedup_key: str
    summary: str
    severity: str
    status: str  # triggered, acknowledged, resolved
    triggered_at: float
    events: list[dict[str, Any]] = field(default_factory=list)


def validate(body: Any, routing_key: str) -> list[str]:
    """The reasons ``body`` is not a valid Events API v2 event (empty when it is)."""
    if not isinstance(body, dict):
        return ["the event must be a JSON object"]
    errors = []
    key = body.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("routing_key: must be a 32-character string")
    elif key != routing_key:
        errors.append("routing_key: not an integration key of this service")
    action = body.get("event_action")
    if action not in ACTIONS:
        errors.append(f"event_action: must be one of {', '.join(ACTIONS)}")
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not dedup or len(dedup) > 255):
        errors.append("dedup_key: must be a non-empty string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append(f"dedup_key: required to {action}")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "payload: required for a trigger"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 1024:
            errors.append("payload.summary: required, at most 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload.get("source"):
            errors.append("payload.source: required")
        if payload.get("severity") not in SEVERITIES:
            errors.append(f"payload.severity: must be one of {', '.join(SEVERITIES)}")
        stamp = payload.get("timestamp")
        if stamp is not None:
            try:
                datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            except ValueError:
                errors.append("payload.timestamp: must be ISO 8601")
        for name in ("component", "group", "class"):
            if name in payload and not isinstance(payload[name], str):
                errors.append(f"payload.{name}: must be a string")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict | str):
            errors.append("payload.custom_details: must be an object")
    for name in ("images", "links"):
        if name in body and not isinstance(body[name], list):
            errors.append(f"{name}: must be a list")
    return errors


class PagerDutyReceiver:
    def __init__(self, routing_key: str, *, throttle_every: int = 3) -> None:
        self.routing_key = routing_key
        self.throttle_every = throttle_every
        self.received: list[Received] = []
        self.incidents: dict[str, Incident] = {}
        self._lock = threading.Lock()
        self._count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, answer = receiver.handle(self.path, self.headers.get("Content-Type", ""), raw)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/enqueue"
        self._thread = threading.Thread(target=self.server.serve_forever, name="pagerduty", daemon=True)

    def __enter__(self) -> PagerDutyReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, path: str, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        now = time.time()
        with self._lock:
            self._count += 1
            throttled = self.throttle_every and self._count % self.throttle_every == 0
        if path != "/v2/enqueue":
            return 404, {"status": "not found"}
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if throttled:
            self._record(Received(now, 429, body if isinstance(body, dict) else {}))
            return 429, {"status": "throttle event", "message": "Requests for this service are arriving too quickly"}
        errors = validate(body, self.routing_key)
        if "application/json" not in content_type:
            errors.append("Content-Type: must be application/json")
        if errors:
            self._record(Received(now, 400, body if isinstance(body, dict) else {}, errors))
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        dedup = body.get("dedup_key") or f"generated-{self._count}"
        self._record(Received(now, 202, body))
        self._apply(dedup, body, now)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup}

    def _record(self, item: Received) -> None:
        with self._lock:
            self.received.append(item)

    def _apply(self, dedup: str, body: dict[str, Any], now: float) -> None:
        with self._lock:
            incident = self.incidents.get(dedup)
            action = body["event_action"]
            if action == "trigger":
                payload = body["payload"]
                if incident is None or incident.status == "resolved":
                    incident = self.incidents[dedup] = Incident(
                        dedup, payload["summary"], payload["severity"], "triggered", now
                    )
                incident.status = "triggered" if incident.status != "acknowledged" else incident.status
            elif incident is not None:
                incident.status = "acknowledged" if action == "acknowledge" else "resolved"
            if incident is not None:
                incident.events.append(body)

    # -- what tests read ------------------------------------------------------------------------------------------
    def accepted(self, action: str | None = None) -> list[Received]:
        with self._lock:
            return [
                r for r in self.received if r.status == 202 and (action is None or r.body["event_action"] == action)
            ]

    def answered(self, status: int) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.status == status]

    def first_trigger(self, predicate) -> Received | None:
        return next((r for r in self.accepted("trigger") if predicate(r.body)), None)
