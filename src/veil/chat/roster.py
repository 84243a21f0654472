"""The contact list as the user sees it, and removing a contact.

:func:`contact_overview` adds to each contact what its newest connection rests on
(post-quantum or not, ratchet version) and whether a connection attempt looks
stuck: a joiner waits for the inviter's answer, and a link that was used before,
or an inviter who never comes online, leaves it waiting for ever.
:func:`remove_contact` deletes a contact, its connections and its history, and
deletes its receive queues at the relays.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.agent.errors import AgentError
from veil.agent.runtime import Agent
from veil.chat.connection_events import log_status
from veil.chat.store import ChatStore, Contact, ContactStatus

__all__ = ["STUCK_AFTER_SECONDS", "ContactOverview", "contact_overview", "remove_contact"]

STUCK_AFTER_SECONDS = 24 * 3600.0
"""A contact still connecting after this long is reported as stuck."""


@dataclass(frozen=True, slots=True)
class ContactOverview:
    """A contact with its connection's protection (``None`` before keys are agreed)."""

    contact: Contact
    pq: bool | None
    ratchet_version: int | None
    stuck: bool


def contact_overview(store: ChatStore, agent: Agent, now: float) -> list[ContactOverview]:
    """Every contact, with what its newest connection rests on."""
    with store.transaction() as tx:
        contacts = [(c, tx.connections.for_contact(c.contact_id)) for c in tx.contacts.list()]
    overview = []
    for contact, connections in contacts:
        pq = version = None
        if connections:
            try:
                security = agent.security(connections[-1])
                pq, version = security.pq, security.ratchet_version
            except AgentError:  # no keys agreed yet
                pass
        stuck = (
            contact.status is ContactStatus.CONNECTING
            and now - contact.created_at > STUCK_AFTER_SECONDS
        )
        overview.append(ContactOverview(contact, pq, version, stuck))
    return overview


async def remove_contact(store: ChatStore, agent: Agent, contact: Contact, now: float) -> int:
    """Delete ``contact`` with its connections, history and pending sends; then delete
    its receive queues at the relays (at a relay that cannot be reached, what they
    hold expires with its retention). The contact is not told. Returns how many
    queues were deleted."""
    with store.transaction() as tx:
        connection_ids = tx.connections.for_contact(contact.contact_id)
    queues = [agent.queues_of(connection_id).receive for connection_id in connection_ids]
    with store.transaction() as tx:
        tx.contacts.delete(contact.contact_id)
        log_status(tx, contact.alias, ContactStatus.DELETED, now)
    return await agent.delete_queues(queues)
