"""Browser sessions of an HTTP door (the dashboard): a person logs in once with a bearer token, the browser keeps
a random session id in an HttpOnly, Secure, SameSite=Strict cookie, and each later request is the identity the
token authenticated as, until the session ends.

Sessions live in the serving process's memory only: a restart logs everyone out. The id is 256 random bits and
is compared as a dictionary key of its SHA-256 digest, so the ids themselves are never held.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from tradingdesk.security.identity import Identity

COOKIE = "td_session"
LIFETIME_S = 8 * 3600
"""A working day: then the browser logs in again."""
MAX_SESSIONS = 10_000


def _key(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


class Sessions:
    def __init__(self, *, lifetime_s: int = LIFETIME_S, now: Callable[[], float] = time.monotonic) -> None:
        self.lifetime_s = lifetime_s
        self._now = now
        self._open: OrderedDict[bytes, tuple[Identity, float]] = OrderedDict()

    def open(self, identity: Identity) -> str:
        """A new session for ``identity``; returns its id (the cookie's value). The oldest goes past the cap."""
        session_id = secrets.token_urlsafe(32)
        self._open[_key(session_id)] = (identity, self._now() + self.lifetime_s)
        while len(self._open) > MAX_SESSIONS:
            self._open.popitem(last=False)
        return session_id

    def identity(self, session_id: str | None) -> Identity | None:
        """Who the session is, None when there is none, it is unknown or it has ended."""
        if not session_id:
            return None
        key = _key(session_id)
        found = self._open.get(key)
        if found is None:
            return None
        if found[1] <= self._now():
            del self._open[key]
            return None
        return found[0]

    def cookie(self, session_id: str) -> str:
        """The ``Set-Cookie`` value: not readable by scripts, sent over HTTPS only, never on another site's
        requests."""
        return f"{COOKIE}={session_id}; Max-Age={self.lifetime_s}; Path=/; HttpOnly; Secure; SameSite=Strict"
