"""Connection state in the event log: contacts' statuses, relays and failed deliveries.

Logged so API clients and bots see them (``docs/protocol/service.md``):

* ``connection``: a contact's status changed; ``text`` is the new one (``connected``,
  ``desynchronised``, ``deleted``), in the transaction that changed it;
* ``relay-unreachable`` / ``relay-reachable``: the relay of a contact's send queue
  stopped taking our sends (for a reason other than a refusal), or took one again;
  ``text`` is the relay, ``contact`` the contact whose send showed it. Only sends
  tell: the agent learns of a relay's state when the outbox runs;
* ``delivery-failed``: the relay refused a send (the contact's queue is gone or its
  quota is full), or a send still failed after :data:`REPORT_AFTER_FAILURES` tries;
  ``id`` is the oldest message of ours to that contact still pending (``None`` if
  the send was not a message), ``text`` why. The outbox keeps the send and retries.
"""

from __future__ import annotations

from collections.abc import Callable

from veil.agent.runtime import Agent
from veil.chat.event_log import record_event
from veil.chat.store import ChatStore, ContactStatus, Direction, Receipt, Transaction
from veil.relay.protocol.errors import CommandError

__all__ = ["REPORT_AFTER_FAILURES", "DeliveryWatch", "log_status", "set_status"]

#: A send that failed this many times in a row is reported (about 10 minutes of backoff).
REPORT_AFTER_FAILURES = 10
_RELAY_KINDS = ("relay-unreachable", "relay-reachable")


def log_status(tx: Transaction, alias: str, status: ContactStatus, now: float) -> None:
    """Log that the contact ``alias`` is now ``status``."""
    record_event(tx, "connection", alias, status.value, row_id=None, now=now)


def set_status(tx: Transaction, contact_id: int, status: ContactStatus, now: float) -> None:
    """Set the contact's status, logging a ``connection`` event when it changes."""
    contact = tx.contacts.get(contact_id)
    tx.contacts.set_status(contact_id, status)
    if contact.status is not status:
        log_status(tx, contact.alias, status, now)


class DeliveryWatch:
    """Turns the outbox's outcomes into events (attach with :meth:`attach`)."""

    def __init__(self, store: ChatStore, agent: Agent, clock: Callable[[], float]) -> None:
        self._store = store
        self._agent = agent
        self._clock = clock
        # Each relay's last logged state, read from the log on first use, so a command
        # that finds the relay back logs it even if another process saw it go.
        self._unreachable: dict[str, bool] | None = None

    def attach(self) -> None:
        """Have the agent's outbox report to this watch."""
        self._agent.outbox.on_failure = self.failed
        self._agent.outbox.on_delivered = self.delivered

    def failed(self, connection_id: int, error: BaseException, failures: int) -> None:
        """A send of ``connection_id`` failed for the ``failures``-th time in a row."""
        relay = self._relay_of(connection_id)
        refused = isinstance(error.__cause__, CommandError)
        with self._store.transaction() as tx:
            contact_id = tx.connections.contact_of(connection_id)
            alias = None if contact_id is None else tx.contacts.get(contact_id).alias
            now = self._clock()
            if (refused and failures == 1) or failures == REPORT_AFTER_FAILURES:
                row = None if contact_id is None else _oldest_pending(tx, contact_id)
                why = f"{error} (tried {failures} times; Veil keeps trying)"
                record_event(tx, "delivery-failed", alias, why, row_id=row, now=now)
            unreachable = self._states(tx)
            if relay is not None and not refused and not unreachable.get(relay, False):
                unreachable[relay] = True
                record_event(tx, "relay-unreachable", alias, relay, row_id=None, now=now)

    def delivered(self, connection_id: int) -> None:
        """Every due send of ``connection_id`` went out."""
        if self._unreachable is not None and not any(self._unreachable.values()):
            return  # the common case: every relay works, no transaction
        relay = self._relay_of(connection_id)
        with self._store.transaction() as tx:
            unreachable = self._states(tx)
            if relay is None or not unreachable.get(relay, False):
                return
            unreachable[relay] = False
            contact_id = tx.connections.contact_of(connection_id)
            alias = None if contact_id is None else tx.contacts.get(contact_id).alias
            record_event(tx, "relay-reachable", alias, relay, row_id=None, now=self._clock())

    def _states(self, tx: Transaction) -> dict[str, bool]:
        if self._unreachable is None:
            latest = tx.events.latest_by_text(_RELAY_KINDS)
            self._unreachable = {relay: kind == _RELAY_KINDS[0] for relay, kind in latest.items()}
        return self._unreachable

    def _relay_of(self, connection_id: int) -> str | None:
        send = self._agent.queues_of(connection_id).send
        return None if send is None else send.address.relay


def _oldest_pending(tx: Transaction, contact_id: int) -> int | None:
    pending = [
        message.row_id
        for message in tx.messages.history(contact_id)
        if message.direction is Direction.SENT and message.receipt is Receipt.PENDING
    ]
    return pending[0] if pending else None
