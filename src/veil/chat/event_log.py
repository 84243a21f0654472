"""Record what arrived in the store's event log, inside the transaction that applied it.

``Messenger`` calls :func:`record_arrivals` while it commits a received batch, so
every logged event commits with the message, contact or request row it describes
(and a crash loses both or neither). Delivery receipts are logged the same way by
the conversation (:func:`record_receipt`) without being shown by ``veil receive``.
The log keeps the newest :data:`KEPT_EVENTS`; an API client that was away longer
reads the history instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from veil.chat.store import Transaction

__all__ = ["KEPT_EVENTS", "Arrival", "record_arrivals", "record_event", "record_receipt"]

#: How many events the log keeps for clients that reconnect.
KEPT_EVENTS = 100_000


class Arrival(Protocol):
    """What the log keeps of an arrival (``veil.chat.conversation.Incoming``)."""

    @property
    def kind(self) -> str: ...
    @property
    def contact(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def row_id(self) -> int | None: ...
    @property
    def integrity(self) -> str: ...
    @property
    def request_id(self) -> int | None: ...


def record_receipt(tx: Transaction, alias: str, status: str, row_id: int, now: float) -> None:
    """Log that the contact ``alias`` reported ``status`` for our message ``row_id``
    (no pruning here: receipts come in bursts with the arrivals that prune)."""
    _add_local(tx, "receipt", alias, status, row_id=row_id, now=now)


def record_event(
    tx: Transaction, kind: str, contact: str | None, text: str, *, row_id: int | None, now: float
) -> None:
    """Log one event that is not an arrival (a transfer, a state change) in ``tx``,
    then drop the oldest beyond :data:`KEPT_EVENTS`."""
    _add_local(tx, kind, contact, text, row_id=row_id, now=now)
    tx.events.prune(KEPT_EVENTS)


def _add_local(
    tx: Transaction, kind: str, contact: str | None, text: str, *, row_id: int | None, now: float
) -> None:
    """An event of this side: it needs no integrity mark and names no request."""
    tx.events.add(
        kind=kind,
        contact=contact,
        text=text,
        row_id=row_id,
        integrity="ok",
        request_id=None,
        at=now,
    )


def record_arrivals(tx: Transaction, arrivals: Iterable[Arrival], now: float) -> None:
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
