"""The chat application: one user's profile, contacts and conversations.

:class:`Messenger` is what the ``veil`` CLI (and later a TUI or a bot API) drives.
It owns the encrypted store and an :class:`~veil.agent.runtime.Agent`, turns user
intents into chat events, and applies the chat events that arrive — each inside
the same store transaction as the ratchet and queue state that carried it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from veil.agent.errors import MalformedLink
from veil.agent.events import (
    AgentEvent,
    ChatEventReceived,
    ConnectionEstablished,
    ConnectionEvent,
    ConnectionRepaired,
    ContactRequestReceived,
    DesyncDetected,
    RepairRequested,
)
from veil.agent.invitations import invitation_from_link, invitation_to_link
from veil.agent.links import ContactAddressLink, InvitationLink, decode_link, encode_link
from veil.agent.relays import Delivery, RelayPort
from veil.agent.runtime import Agent
from veil.agent.short_links import is_short_link, publish_short_link, resolve_short_link
from veil.chat.connection_events import DeliveryWatch
from veil.chat.contacts import (
    PENDING_CONTACT_NAME,
    apply_connection_event,
    connection_of,
    mark_repaired,
)
from veil.chat.conversation import Conversation, Incoming
from veil.chat.errors import RecordNotFound, StoreNotFound
from veil.chat.event_log import record_arrivals
from veil.chat.profile import Profile
from veil.chat.routing import initial_policy, routed_relays
from veil.chat.store import (
    ChatStore,
    Contact,
    ContactRequestRecord,
    ContactStatus,
    KdfParams,
    RequestStatus,
    Transaction,
)
from veil.chat.verification import CodeCheck, check_code
from veil.crypto import RandomSource, SystemRandom
from veil.relay.protocol.address import RelayAddress
from veil.routing.policy import RoutingPolicy

if TYPE_CHECKING:  # the host builds on this module
    from veil.chat.group_host import GroupHost

__all__ = [
    "OWN_KEYS_FORMAT",
    "STORE_FILE",
    "CodeCheck",
    "ConnectionRelays",
    "GroupHook",
    "Messenger",
]

STORE_FILE = "veil.db"
_PRIVATE_DIR = 0o700
GroupHook = Callable[[Transaction, int, str, ChatEventReceived], "Incoming | None"]
#: Veil has no long-term identity keys (every connection has its own), so the
#: profile's key blob holds only its format version, ready for later additions.
OWN_KEYS_FORMAT = bytes([1])


@dataclass(frozen=True, slots=True)
class ConnectionRelays:
    """The relays one connection uses: where we receive, and where we send (once known)."""

    receive: str
    send: str | None
    proxied: bool
    """Whether sends to ``send`` go through a proxy relay under the routing policy."""


class Messenger:
    """One user's Veil client, over a store in ``home``.

    ``policy`` is the private-routing policy (``veil.chat.routing.load_policy``);
    without one, the relays recorded in the store are used as the user's own.
    New receive queues go to the policy's relays enabled for receiving. ``relays``
    replaces the network under the policy (an in-memory relay, in tests).
    """

    def __init__(
        self,
        store: ChatStore,
        *,
        policy: RoutingPolicy | None = None,
        rng: RandomSource | None = None,
        clock: Callable[[], float] = time.time,
        pq: bool = True,
        relays: RelayPort | None = None,
    ) -> None:
        self.store = store
        self._rng = rng or SystemRandom()
        self._clock = clock
        self._pq = pq
        with store.transaction() as tx:
            self.profile = tx.profile.get().profile
            stored_relays = tx.relays.list()
        self.policy = policy or initial_policy(stored_relays)
        self._relays = routed_relays(self.policy, self._rng) if relays is None else relays
        receiving = [str(relay.address) for relay in self.policy.relays if relay.receive]
        self.agent = Agent(
            store,
            self._relays,
            self.profile.to_handshake_bytes(),
            receiving,
            check_profile=Profile.from_handshake_bytes,
            rng=self._rng,
            clock=clock,
        )
        self.conversation = Conversation(store, self.agent, self._rng, clock)
        DeliveryWatch(store, self.agent, clock).attach()  # failures and relays, logged
        self.group_hook: GroupHook | None = None
        """Takes group join messages off pairwise connections (``veil.chat.group_joins``)."""
        self.groups: GroupHost | None = None
        """The group machinery, once a group method needed it (``veil.chat.group_host``)."""

    @property
    def rng(self) -> RandomSource:
        """The randomness this client draws from (for the modules beside it)."""
        return self._rng

    def now(self) -> float:
        """The current time on this client's clock."""
        return self._clock()

    # -- lifecycle ----------------------------------------------------------------

    @staticmethod
    def create(
        home: Path, passphrase: str, name: str, relays: list[str], *, kdf: KdfParams | None = None
    ) -> ChatStore:
        """Create a profile in ``home`` that receives on ``relays``; return its store."""
        if not relays:
            raise ValueError("give at least one relay address (--relay veil://...)")
        canonical = [str(RelayAddress.parse(relay)) for relay in relays]
        if not home.exists():
            home.mkdir(mode=_PRIVATE_DIR, parents=True)
            home.chmod(_PRIVATE_DIR)  # mkdir's mode is filtered by the umask
        store = ChatStore.create(home / STORE_FILE, passphrase, kdf=kdf)
        with store.transaction() as tx:
            tx.profile.create(Profile(name), OWN_KEYS_FORMAT, time.time())
            for relay in canonical:
                tx.relays.add(relay, time.time())
        return store

    @staticmethod
    def open_store(home: Path, passphrase: str) -> ChatStore:
        """Open the store in ``home``; :class:`StoreNotFound` says to run ``veil init``."""
        path = home / STORE_FILE
        if not path.exists():
            raise StoreNotFound(f"no Veil profile in {home}: run `veil init --name NAME` first")
        return ChatStore.open(path, passphrase)

    async def close(self) -> None:
        """Close the group logs, the relay connections and the store."""
        if self.groups is not None:
            await self.groups.close()
        await self._relays.close()
        self.store.close()

    # -- connections ----------------------------------------------------------------

    async def invite(self, *, short: bool = False) -> str:
        """A new one-time invitation link; ``short``: kept on our relay behind a short
        link (veil.agent.short_links) that scans as a small QR code."""
        receive = await self.agent.handshakes.new_receive_queue()
        with self.store.transaction() as tx:
            _, invitation = self.agent.handshakes.invite(tx, receive, pq=self._pq)
        link = encode_link(invitation_to_link(invitation))
        if not short:
            return link
        published = await publish_short_link(
            self._relays, receive.relay, link, self._rng, self._clock()
        )
        return published.encode()

    async def connect(self, link_text: str) -> Contact:
        """Join an invitation (long or short), or send a contact request to a contact
        address."""
        if is_short_link(link_text):
            link_text = await resolve_short_link(self._relays, link_text, self._clock())
        link = decode_link(link_text)
        if isinstance(link, InvitationLink):
            return await self._join(link, PENDING_CONTACT_NAME)
        return await self._request(link)

    async def _join(
        self, link: InvitationLink, name: str, request_id: int | None = None
    ) -> Contact:
        """Join the invitation as a new contact named ``name`` (status CONNECTING)."""
        invitation = invitation_from_link(link)
        receive = await self.agent.handshakes.new_receive_queue()
        with self.store.transaction() as tx:
            connection_id = self.agent.handshakes.join(tx, receive, invitation)
            contact = self._add_contact(tx, connection_id, name)
            if request_id is not None:
                tx.requests.set_status(request_id, RequestStatus.ACCEPTED)
        await self.agent.outbox.flush(force=True)
        return contact

    async def _request(self, link: ContactAddressLink) -> Contact:
        """Send our invitation and profile to a contact address (status CONNECTING)."""
        receive = await self.agent.handshakes.new_receive_queue()
        with self.store.transaction() as tx:
            connection_id = self.agent.handshakes.request_contact(tx, receive, link)
            contact = self._add_contact(tx, connection_id, PENDING_CONTACT_NAME)
        await self.agent.outbox.flush(force=True)
        return contact

    def _add_contact(self, tx: Transaction, connection_id: int, name: str) -> Contact:
        contact = tx.contacts.add(Profile(name), ContactStatus.CONNECTING, self._clock())
        tx.connections.set_contact(connection_id, contact.contact_id)
        return contact

    async def create_address(self) -> str:
        """Create the contact address; return its link."""
        return await self.agent.handshakes.create_address()

    def address(self) -> str | None:
        """The contact address link, if there is one."""
        return self.agent.handshakes.address()

    async def delete_address(self) -> None:
        """Delete the contact address; existing contacts are not affected."""
        await self.agent.handshakes.delete_address()

    def requests(self) -> list[ContactRequestRecord]:
        """Contact requests waiting for an answer."""
        with self.store.transaction() as tx:
            return tx.requests.list(RequestStatus.PENDING)

    async def accept(self, request_id: int) -> Contact:
        """Accept a contact request: join the invitation it carries."""
        with self.store.transaction() as tx:
            request = tx.requests.get(request_id)
        if request.status is not RequestStatus.PENDING:
            raise ValueError(f"request {request_id} was already {request.status.value}")
        link = decode_link(request.invitation.decode("utf-8"))
        if not isinstance(link, InvitationLink):
            raise MalformedLink("a contact request must carry a one-time invitation")
        return await self._join(link, request.profile.display_name, request_id)

    def reject(self, request_id: int) -> None:
        """Reject a contact request: nothing is sent, the stranger learns nothing."""
        with self.store.transaction() as tx:
            request = tx.requests.get(request_id)
            if request.status is not RequestStatus.PENDING:
                raise ValueError(f"request {request_id} was already {request.status.value}")
            tx.requests.set_status(request_id, RequestStatus.REJECTED)

    def contacts(self) -> list[Contact]:
        """Every contact with its status."""
        with self.store.transaction() as tx:
            return tx.contacts.list()

    def contact(self, alias: str) -> Contact:
        """The contact with this alias; :class:`RecordNotFound` names the alias."""
        with self.store.transaction() as tx:
            try:
                return tx.contacts.find(alias)
            except RecordNotFound:
                raise RecordNotFound(
                    f"no contact named {alias!r}: `veil contacts` lists them"
                ) from None

    def relays_of(self, contact: Contact) -> list[ConnectionRelays]:
        """The relays each of ``contact``'s connections uses, oldest connection first."""
        with self.store.transaction() as tx:
            connections = tx.connections.for_contact(contact.contact_id)
        result = []
        for connection_id in connections:
            queues = self.agent.queues_of(connection_id)
            send = None if queues.send is None else queues.send.address.relay
            proxied = send is not None and self.policy.is_proxied(RelayAddress.parse(send))
            result.append(ConnectionRelays(queues.receive.relay, send, proxied))
        return result

    def pending_sends(self) -> int:
        """How many relay actions wait in the outbox (for a relay to come back)."""
        return self.agent.outbox.pending()

    def rename(self, alias: str, new_alias: str) -> None:
        """Change a contact's local alias (never sent to anyone)."""
        contact = self.contact(alias)
        with self.store.transaction() as tx:
            tx.contacts.rename(contact.contact_id, new_alias)

    async def repair(self, alias: str) -> bool:
        """Offer to re-agree keys with a contact, or accept their offer (True if done)."""
        contact_id = self.contact(alias).contact_id
        with self.store.transaction() as tx:
            accepted = self.agent.repair(tx, connection_of(tx, contact_id))
            if accepted:
                mark_repaired(tx, contact_id, self._clock())
        await self.agent.outbox.flush(force=True)
        return accepted

    def verify(self, alias: str, code: str | None) -> CodeCheck:
        """Compare the security code with the one the contact reads out; mark verified
        on a match. Without ``code``, just show ours (:mod:`veil.chat.verification`)."""
        return check_code(self.store, self.agent, self.contact(alias), code)

    # -- receiving --------------------------------------------------------------------

    async def receive(self, *, idle: float, on_incoming: Callable[[Incoming], None]) -> int:
        """Process everything that arrives until ``idle`` seconds pass quietly; return
        how many deliveries were processed. One timer serves the agent's retries and
        the delivery receipts: the loop sleeps until the earliest of them."""
        await self.agent.outbox.flush(force=True)
        if not await self.agent.inbox.subscribe():
            return 0
        processed, quiet = 0, 0.0
        while quiet < idle:
            wait = self._until_next_timer(idle - quiet)
            batch = await self.agent.inbox.next_batch(wait)
            if batch:
                for incoming in await self._commit(batch):
                    on_incoming(incoming)
                processed, quiet = processed + len(batch), 0.0
            else:
                quiet += wait
            now = self._clock()
            await self.agent.handle_timer(now)
            await self.conversation.handle_timer(now)
        await self.conversation.flush_receipts(force=True)
        self.conversation.mark_flushed_sent()
        return processed

    def _until_next_timer(self, longest: float) -> float:
        now = self._clock()
        timers = (self.agent.next_timer(), self.conversation.next_timer())
        return max(0.0, min([longest, *(at - now for at in timers if at is not None)]))

    async def _commit(self, batch: list[Delivery]) -> list[Incoming]:
        """Commit one batch with everything it changes, then acknowledge it."""
        try:
            with self.store.transaction() as tx:
                received = self.agent.inbox.process(tx, batch)
                incoming = [self._apply(tx, item) for item in received]
                record_arrivals(tx, filter(None, incoming), self._clock())
        except Exception:
            await self.agent.inbox.redeliver(batch)
            raise
        await self.agent.inbox.acknowledge(batch)
        return [item for item in incoming if item is not None]

    def _apply(self, tx: Transaction, received: ConnectionEvent) -> Incoming | None:
        event = received.event
        if isinstance(event, ContactRequestReceived):
            return self._store_request(tx, event)
        contact_id = apply_connection_event(tx, received, self._clock())
        if contact_id is None:
            return None
        alias = tx.contacts.get(contact_id).alias
        if isinstance(event, ChatEventReceived):
            hooked = self.group_hook and self.group_hook(tx, contact_id, alias, event)
            return hooked or self.conversation.apply(tx, contact_id, alias, event)
        if isinstance(event, ConnectionEstablished):
            return Incoming(
                "connected", alias, Profile.from_handshake_bytes(event.profile).display_name
            )
        if isinstance(event, DesyncDetected):
            return Incoming("desync", alias, event.reason)
        if isinstance(event, ConnectionRepaired) and event.resend_after is not None:
            self.conversation.resend_after_restore(tx, contact_id, event.resend_after)
        kind = _NOTICES.get(type(event))
        return None if kind is None else Incoming(kind, alias, "")

    def _store_request(self, tx: Transaction, event: ContactRequestReceived) -> Incoming:
        profile = Profile.from_handshake_bytes(event.profile)
        stored = tx.requests.add(profile, event.invitation_link.encode("utf-8"), self._clock())
        return Incoming("request", None, profile.display_name, request_id=stored.request_id)


#: Agent events shown to the user as a bare notice about the contact.
_NOTICES: dict[type[AgentEvent], str] = {
    RepairRequested: "repair-request",
    ConnectionRepaired: "repaired",
}
