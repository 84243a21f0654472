"""Starting connections: invitations, joining, contact requests and the contact address.

Each way of starting a connection first needs a fresh receive queue from a relay
(:meth:`Handshakes.new_receive_queue`, the only network round trip); what follows
is written in a transaction the caller opens, so the caller's own rows (a contact
for the new connection) commit with it. The relay actions it queues run from the
outbox once the caller flushes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from veil.agent.address import AddressState, address_sender_key, seal_contact_request
from veil.agent.connection import Connection
from veil.agent.connections import ConnectionCache
from veil.agent.delivery import ActionKind, OutboxEntry
from veil.agent.effects import AGENT_VERSIONS, Invitation
from veil.agent.invitations import address_link, invitation_to_link
from veil.agent.links import ContactAddressLink, encode_link
from veil.agent.outbox import OutboxRunner
from veil.agent.payloads import ContactRequest, QueueAddress
from veil.agent.queues import ReceiveQueue
from veil.agent.relays import RelayPort
from veil.agent.store import AgentStore, AgentTransaction
from veil.crypto import RandomSource
from veil.routing.errors import NoRouteAvailable
from veil.routing.policy import random_index

__all__ = ["Handshakes"]


class Handshakes:
    """Invite, join, ask a contact address to connect, and keep our own address."""

    def __init__(
        self,
        store: AgentStore,
        relays: RelayPort,
        connections: ConnectionCache,
        outbox: OutboxRunner,
        *,
        profile: bytes,
        own_relays: Sequence[str],
        rng: RandomSource,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._relays = relays
        self._connections = connections
        self._outbox = outbox
        self._profile = profile
        self._own_relays = tuple(own_relays)
        self._rng = rng
        self._clock = clock

    async def new_receive_queue(self) -> ReceiveQueue:
        """A fresh queue on one of our receiving relays, picked uniformly at random
        (none enabled: ``NoRouteAvailable``)."""
        if not self._own_relays:
            raise NoRouteAvailable("no relay is enabled for receiving: `veil relays enable`")
        relay = self._own_relays[random_index(self._rng, len(self._own_relays))]
        return await self._relays.create_queue(relay)

    def invite(
        self, tx: AgentTransaction, receive: ReceiveQueue, *, pq: bool = True
    ) -> tuple[int, Invitation]:
        """Start a connection as the inviter on ``receive``; return its id and the
        one-time invitation to publish."""
        connection, invitation = Connection.invite(receive, self._profile, self._rng, pq=pq)
        return self._connections.add(tx, connection), invitation

    def join(self, tx: AgentTransaction, receive: ReceiveQueue, invitation: Invitation) -> int:
        """Join a peer's invitation, answering on ``receive``; return the connection id.
        The confirmation waits in the outbox until the caller flushes it."""
        connection, effects = Connection.join(invitation, receive, self._profile, self._rng)
        connection_id = self._connections.add(tx, connection)
        self._outbox.enqueue(tx, connection_id, effects)
        return connection_id

    def request_contact(
        self, tx: AgentTransaction, receive: ReceiveQueue, address: ContactAddressLink
    ) -> int:
        """Ask the owner of a contact address to connect: invite on ``receive`` and
        send them the invitation with our profile. Return the new connection's id."""
        AGENT_VERSIONS.agree(address.agent_versions)
        target = address.queues[0]
        connection_id, invitation = self.invite(tx, receive)
        link = encode_link(invitation_to_link(invitation))
        frame = seal_contact_request(
            target.link_key, ContactRequest(link, self._profile), self._rng, address.kem_public
        )
        entry = OutboxEntry(
            ActionKind.SEND_TO_ADDRESS,
            frame,
            QueueAddress(target.relay, target.sender_id),
            target.link_key,
        )
        tx.outbox.enqueue(connection_id, entry.to_bytes(), self._clock())
        self._outbox.wake()
        return connection_id

    async def create_address(self) -> str:
        """Create our contact address (a long-lived queue); return its link text."""
        receive = await self.new_receive_queue()
        state = AddressState.create(receive, self._rng)
        sender = address_sender_key(state.address_key_public)
        await self._relays.secure_own_queue(receive, sender.public)
        kem = state.kem
        kem_public = None if kem is None else kem.public
        link = encode_link(address_link(receive.address, state.address_key_public, kem_public))
        with self._store.transaction() as tx:
            tx.address.create(link, receive.recipient_id, state.to_bytes(), self._clock())
        return link

    def address(self) -> str | None:
        """The contact address link, if there is one."""
        with self._store.transaction() as tx:
            address = tx.address.get()
        return None if address is None else address.link

    async def delete_address(self) -> None:
        """Delete the address queue at its relay, then locally; contacts stay intact."""
        with self._store.transaction() as tx:
            address = tx.address.get()
        if address is None:
            raise ValueError("there is no contact address to delete")
        await self._relays.delete_queue(AddressState.from_bytes(address.queue_state).receive)
        with self._store.transaction() as tx:
            tx.address.delete()
