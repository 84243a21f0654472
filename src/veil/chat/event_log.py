"""Record what arrived in the store's event log, inside the transaction that applied it.

``Messenger`` calls :func:`record_arrivals` while it commits a received batch, so
every logged event commits with the message, contact or request row it describes
(and a crash loses both or neither). The log keeps the newest :data:`KEPT_EVENTS`;
an API client that was away longer reads the history instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from veil.chat.conversation import Incoming
from veil.chat.store import Transaction

__all__ = ["KEPT_EVENTS", "record_arrivals"]

#: How many events the log keeps for clients that reconnect.
KEPT_EVENTS = 100_000


def record_arrivals(tx: Transaction, arrivals: Iterable[Incoming], now: float) -> None:
    """Append each arrival to the event log in ``tx``, then drop the oldest beyond
    :data:`KEPT_EVENTS`."""
    recorded = False
    for incoming in arrivals:
        tx.events.add(
            kind=incoming.kind,
            contact=incoming.contact,
            text=incoming.text,
            row_id=incoming.row_id,
            integrity=incoming.integrity,
            request_id=incoming.request_id,
            at=now,
        )
        recorded = True
    if recorded:
        tx.events.prune(KEPT_EVENTS)
