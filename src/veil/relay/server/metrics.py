"""Plain counters the relay keeps; the server exposes them (Prometheus text format).

Only aggregate numbers: nothing here can name a queue, a key or a client.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

__all__ = ["RelayMetrics"]


@dataclass(slots=True)
class RelayMetrics:
    """Counters (monotonic) and gauges (``queues``, ``messages_pending``) of one relay."""

    queues: int = 0
    messages_pending: int = 0
    sessions_opened: int = 0
    sessions_active: int = 0
    queues_created: int = 0
    queues_deleted: int = 0
    messages_stored: int = 0
    messages_delivered: int = 0
    messages_acknowledged: int = 0
    messages_expired: int = 0
    store_commits: int = 0
    forwards_received: int = 0
    """``RFWD`` commands this relay opened as a destination."""
    proxy_sessions_opened: int = 0
    """Sessions this relay opened to destination relays as a proxy."""
    forwards_proxied: int = 0
    """``PFWD`` commands this relay passed on as a proxy."""
    errors: Counter[str] = field(default_factory=Counter)
    """Errors by kind (the error class name), e.g. ``{"AuthFailed": 3}``."""

    def snapshot(self) -> dict[str, int]:
        """Flat name → value view, with one ``errors_<Kind>`` entry per error kind."""
        values = {
            spec.name: int(getattr(self, spec.name))
            for spec in fields(self)
            if spec.name != "errors"
        }
        values.update({f"errors_{kind}": count for kind, count in sorted(self.errors.items())})
        return values
