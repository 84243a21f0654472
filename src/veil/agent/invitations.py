"""Between the connection core and link text: invitation and contact-address links.

:class:`~veil.agent.connection.Invitation` is what the sans-I/O core produces and
consumes; :mod:`veil.agent.links` owns the text forms. These two functions are the
only translation between them, so the core never depends on how links are spelled.
"""

from __future__ import annotations

from veil.agent.effects import AGENT_VERSIONS, Invitation
from veil.agent.errors import MalformedLink
from veil.agent.links import ContactAddressLink, InvitationLink, LinkQueue
from veil.agent.payloads import QueueAddress
from veil.ratchet.agreement import InvitationKeys

__all__ = ["address_link", "invitation_from_link", "invitation_to_link"]


def invitation_to_link(invitation: Invitation) -> InvitationLink:
    """The one-time link that carries ``invitation``."""
    queue = LinkQueue(invitation.queue.relay, invitation.queue.sender_id, invitation.link_key)
    ratchet_versions = InvitationKeys.decode(invitation.ratchet_invitation).versions
    return InvitationLink(
        (queue,), invitation.agent_versions, ratchet_versions, invitation.ratchet_invitation
    )


def invitation_from_link(link: InvitationLink) -> Invitation:
    """The invitation a one-time link carries (its first queue is the one to join)."""
    queue = link.queues[0]
    if InvitationKeys.decode(link.ratchet_invitation).versions != link.ratchet_versions:
        raise MalformedLink("the link's ratchet versions disagree with its ratchet keys")
    return Invitation(
        QueueAddress(queue.relay, queue.sender_id),
        queue.link_key,
        link.ratchet_invitation,
        link.agent_versions,
    )


def address_link(
    queue: QueueAddress, address_key_public: bytes, kem_public: bytes | None
) -> ContactAddressLink:
    """The long-lived link of a contact address."""
    return ContactAddressLink(
        (LinkQueue(queue.relay, queue.sender_id, address_key_public),),
        AGENT_VERSIONS,
        kem_public,
    )
