"""How agent events change the contact rows: creation, naming, status.

Called inside the runtime's store transaction for each input, so a contact's row
changes together with the connection state that caused it.
"""

from __future__ import annotations

from collections.abc import Iterable

from veil.agent.events import AgentEvent, ConnectionEstablished, ConnectionRepaired, PeerConfirmed
from veil.chat.errors import DuplicateRecord
from veil.chat.profile import Profile
from veil.chat.store import ContactStatus, Transaction

__all__ = ["PENDING_CONTACT_NAME", "apply_contact_events", "mark_repaired"]

#: The name a joiner shows for a contact until the inviter's hello brings its profile.
PENDING_CONTACT_NAME = "new contact"


def apply_contact_events(
    tx: Transaction, contact_id: int | None, events: Iterable[AgentEvent], now: float
) -> int | None:
    """Apply one input's events to the contact rows; return the contact's id
    (new when the inviter just learned who joined)."""
    for event in events:
        if isinstance(event, PeerConfirmed) and contact_id is None:
            contact_id = tx.contacts.add(event.profile, ContactStatus.CONNECTED, now).contact_id
        elif isinstance(event, ConnectionEstablished) and contact_id is not None:
            _name_contact(tx, contact_id, event.profile)
        elif isinstance(event, ConnectionRepaired) and contact_id is not None:
            mark_repaired(tx, contact_id)
    return contact_id


def mark_repaired(tx: Transaction, contact_id: int) -> None:
    """New keys, new security code: an earlier verification no longer holds."""
    tx.contacts.set_status(contact_id, ContactStatus.CONNECTED)
    tx.contacts.set_verified(contact_id, False)


def _name_contact(tx: Transaction, contact_id: int, profile: Profile) -> None:
    contact = tx.contacts.get(contact_id)
    tx.contacts.set_profile(contact_id, profile)
    tx.contacts.set_status(contact_id, ContactStatus.CONNECTED)
    if contact.status is ContactStatus.CONNECTING and contact.alias.startswith(
        PENDING_CONTACT_NAME
    ):
        _rename_to_free_alias(tx, contact_id, profile.display_name)


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
