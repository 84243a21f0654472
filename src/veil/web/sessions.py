"""Who may use the web app: one-time tickets that become session cookies.

``veil web`` prints (or opens) a link carrying a one-time *ticket*. The first
request that presents it gets a fresh session id in an HttpOnly, SameSite=Strict
cookie and the ticket is spent; a ticket also expires after ``TICKET_LIFETIME``.
The cookie is the only credential after that, and a browser never sees the
service's own token. Pure: the clock and the randomness are passed in.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from veil.crypto import RandomSource

__all__ = ["COOKIE_NAME", "TICKET_LIFETIME", "WebSessions"]

COOKIE_NAME = "veil_session"
#: Seconds a one-time link stays usable.
TICKET_LIFETIME = 120.0
_SECRET_BYTES = 32


@dataclass(slots=True)
class WebSessions:
    """The tickets not yet spent and the sessions they opened."""

    rng: RandomSource
    clock: Callable[[], float]
    _tickets: dict[str, float] = field(default_factory=dict)
    _sessions: set[str] = field(default_factory=set)

    def issue_ticket(self) -> str:
        """A new one-time ticket for a link."""
        ticket = self.rng.random_bytes(_SECRET_BYTES).hex()
        self._tickets[ticket] = self.clock() + TICKET_LIFETIME
        return ticket

    def redeem(self, ticket: str) -> str | None:
        """Spend ``ticket``; the new session id, or None if it is unknown, spent or old."""
        now = self.clock()
        self._tickets = {known: until for known, until in self._tickets.items() if until > now}
        if self._tickets.pop(ticket, None) is None:
            return None
        session = self.rng.random_bytes(_SECRET_BYTES).hex()
        self._sessions.add(session)
        return session

    def is_session(self, session: str | None) -> bool:
        """Whether ``session`` is a cookie value this gateway handed out."""
        if not session:
            return False
        # Compare in constant time so a wrong guess teaches nothing of a right one.
        return any(hmac.compare_digest(session, known) for known in self._sessions)

    def cookie_header(self, session: str) -> str:
        """The ``Set-Cookie`` value for ``session``."""
        return f"{COOKIE_NAME}={session}; HttpOnly; SameSite=Strict; Path=/"
