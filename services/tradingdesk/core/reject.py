"""Refusals in domain terms: what sort of "no", a stable reason code clients switch on, and the message.

The domain raises ``Reject`` and knows nothing of transports. Each edge maps ``RejectKind`` to its own
vocabulary exactly once: a gRPC status code in ``edge/status.py``, an HTTP status in risk's HTTP door. A
refused request changed nothing, whichever door it came through.
"""

from __future__ import annotations

from enum import Enum


class RejectKind(Enum):
    """Why a request is refused, in the terms a client needs to decide what to do next."""

    INVALID = "invalid"
    """The request itself is malformed or names something the desk does not have: fix it, then retry."""
    NOT_FOUND = "not_found"
    """What it refers to (an order) does not exist for this caller."""
    DUPLICATE = "duplicate"
    """An idempotency key already names something different."""
    REFUSED = "refused"
    """A rule or the current state refuses it (a limit, a halt, an order already closed)."""
    THROTTLED = "throttled"
    """A rate or capacity limit refuses it now; the same request may pass later."""
    UNAVAILABLE = "unavailable"
    """A dependency is missing right now (the risk stream); the same request may pass once it is back."""
    CONFLICT = "conflict"
    """The caller's view is out of date (an expected version that is no longer current): read again."""


class Reject(Exception):
    """A refused request. ``code`` is a stable machine-readable reason (``PRICE_COLLAR``, ``INVALID_ARGUMENT``)."""

    def __init__(self, kind: RejectKind, message: str, code: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code


def invalid(field: str, problem: str) -> Reject:
    """A malformed request; the message starts with the field's name so a client can point at it."""
    return Reject(RejectKind.INVALID, f"{field}: {problem}", "INVALID_ARGUMENT")


def not_found(what: str) -> Reject:
    return Reject(RejectKind.NOT_FOUND, what, "NOT_FOUND")


def duplicate(message: str, code: str) -> Reject:
    return Reject(RejectKind.DUPLICATE, message, code)


def refused(message: str, code: str) -> Reject:
    return Reject(RejectKind.REFUSED, message, code)


def throttled(message: str, code: str) -> Reject:
    return Reject(RejectKind.THROTTLED, message, code)


JOURNAL_UNAVAILABLE = "JOURNAL_UNAVAILABLE"
"""The code of a refusal because a journal (routing's orders, risk's changes) cannot write to its database now."""


def unavailable(message: str, code: str) -> Reject:
    return Reject(RejectKind.UNAVAILABLE, message, code)


def conflict(message: str, code: str) -> Reject:
    return Reject(RejectKind.CONFLICT, message, code)
