"""How the agent's connection events change the chat layer's contact rows.

The agent reports what happened to a connection (:class:`ConnectionEvent`); the
chat layer keeps which contact each connection belongs to, and applies the events
to the contact rows in the same transaction as the agent state that produced them.
Profiles in those events already passed ``Profile.from_handshake_bytes`` (the
check the chat layer gives the agent), so they decode here.
"""

from __future__ import annotations

from veil.agent.events import (
    ConnectionEstablished,
    ConnectionEvent,
    ConnectionRepaired,
    DesyncDetected,
    PeerConfirmed,
    SyncRestored,
)
from veil.chat.connection_events import log_status, set_status
from veil.chat.errors import ContactNotConnected, DuplicateRecord
from veil.chat.profile import Profile
from veil.chat.store import ContactStatus, Transaction

__all__ = [
    "PENDING_CONTACT_NAME",
    "apply_connection_event",
    "connection_of",
    "mark_repaired",
]

#: The name a joiner shows for a contact until the inviter's hello brings its profile.
PENDING_CONTACT_NAME = "new contact"


def connection_of(tx: Transaction, contact_id: int) -> int:
    """The contact's newest connection; :class:`ContactNotConnected` if it has none."""
    connections = tx.connections.for_contact(contact_id)
    if not connections:
        alias = tx.contacts.get(contact_id).alias
        raise ContactNotConnected(
            f"{alias} has no connection: connect again with a new invitation (`veil invite`)"
        )
    return connections[-1]


def apply_connection_event(tx: Transaction, received: ConnectionEvent, now: float) -> int | None:
    """Apply one agent event to the contact rows; return the contact it concerns
    (new when an inviter just learned who joined)."""
    if received.connection_id is None:
        return None
    event, connection_id = received.event, received.connection_id
    contact_id = tx.connections.contact_of(connection_id)
    if isinstance(event, PeerConfirmed) and contact_id is None:
        contact = tx.contacts.add(
            Profile.from_handshake_bytes(event.profile), ContactStatus.CONNECTED, now
        )
        tx.connections.set_contact(connection_id, contact.contact_id)
        log_status(tx, contact.alias, ContactStatus.CONNECTED, now)
        return contact.contact_id
    if contact_id is None:
        return None
    if isinstance(event, ConnectionEstablished):
        _name_contact(tx, contact_id, Profile.from_handshake_bytes(event.profile), now)
    elif isinstance(event, ConnectionRepaired):
        # A restore repair is authenticated by the old session's keys, so a
        # verification of that session carries over; a consented repair's does not.
        mark_repaired(tx, contact_id, now, keep_verified=event.automatic)
    elif isinstance(event, DesyncDetected):
        set_status(tx, contact_id, ContactStatus.DESYNCHRONISED, now)
    elif isinstance(event, SyncRestored):
        set_status(tx, contact_id, ContactStatus.CONNECTED, now)
    return contact_id


def mark_repaired(
    tx: Transaction, contact_id: int, now: float, *, keep_verified: bool = False
) -> None:
    """New keys, new security code: an earlier verification no longer holds, unless
    the old session itself authenticated the new keys (``keep_verified``)."""
    set_status(tx, contact_id, ContactStatus.CONNECTED, now)
    if not keep_verified:
        tx.contacts.set_verified(contact_id, False)


def _name_contact(tx: Transaction, contact_id: int, profile: Profile, now: float) -> None:
    contact = tx.contacts.get(contact_id)
    tx.contacts.set_profile(contact_id, profile)
    if contact.status is ContactStatus.CONNECTING and contact.alias.startswith(
        PENDING_CONTACT_NAME
    ):
        _rename_to_free_alias(tx, contact_id, profile.display_name)
    set_status(tx, contact_id, ContactStatus.CONNECTED, now)  # logged under the new alias


def _rename_to_free_alias(tx: Transaction, contact_id: int, wanted: str) -> None:
    """Rename to ``wanted``, or ``wanted-2``, ``wanted-3``... if the alias is taken."""
    alias, suffix = wanted, 1
    while True:
        try:
            tx.contacts.rename(contact_id, alias)
            return
        except DuplicateRecord:
            suffix += 1
            alias = f"{wanted}-{suffix}"
