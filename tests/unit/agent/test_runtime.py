"""The agent runtime over an in-memory relay and real encrypted stores.

:class:`Party` is the smallest caller of the agent: it owns the transactions, as
the chat layer does, and keeps contact rows with the chat layer's own functions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from helpers.fake_relay import FakeRelay
from veil.agent.connection import Connection
from veil.agent.effects import Invitation
from veil.agent.errors import UnknownConnection
from veil.agent.events import (
    AgentEvent,
    ChatEventReceived,
    ConnectionEstablished,
    ConnectionRepaired,
    ContactRequestReceived,
    DesyncDetected,
    RepairRequested,
    SyncRestored,
)
from veil.agent.frames import FrameKind, encode_frame
from veil.agent.inbox import DESYNC_THRESHOLD
from veil.agent.invitations import invitation_from_link
from veil.agent.links import ContactAddressLink, InvitationLink, decode_link
from veil.agent.payloads import ChatPayload, RepairOffer
from veil.agent.queue_frames import queue_key, seal_queue_frame
from veil.agent.runtime import Agent
from veil.chat.contacts import (
    PENDING_CONTACT_NAME,
    apply_connection_event,
    connection_of,
    mark_repaired,
)
from veil.chat.profile import Profile
from veil.chat.store import ChatStore, ContactStatus, KdfParams, Transaction
from veil.crypto import SystemRandom
from veil.errors import LocalError, ProtocolError
from veil.ratchet.agreement import InvitationSecrets

RELAY = "veil://" + "A" * 43 + "@relay.example"
FAST = KdfParams(iterations=1, lanes=1, memory_kib=64)

Seen = list[tuple[int | None, AgentEvent]]


def _agent(store: ChatStore, relay: FakeRelay, profile: bytes) -> Agent:
    return Agent(
        store,
        relay,
        profile,
        [RELAY],
        check_profile=Profile.from_handshake_bytes,
        rng=SystemRandom(),
        clock=time.time,
    )


class Party:
    """One user: an agent over their store, driven the way the chat layer drives it."""

    def __init__(
        self, tmp_path: Path, name: str, relay: FakeRelay, profile: bytes | None = None
    ) -> None:
        self.store = ChatStore.create(tmp_path / f"{name}.db", "pw", kdf=FAST)
        profile = Profile(name).to_handshake_bytes() if profile is None else profile
        self.agent = _agent(self.store, relay, profile)
        self.relay = relay
        self.seen: Seen = []
        self.failing = False
        """Make the caller's part of the next commit fail, as a full disk would."""

    async def invite(self) -> Invitation:
        receive = await self.agent.handshakes.new_receive_queue()
        with self.store.transaction() as tx:
            _, invitation = self.agent.handshakes.invite(tx, receive, pq=False)
        return invitation

    async def join(self, invitation: Invitation, name: str = PENDING_CONTACT_NAME) -> int:
        receive = await self.agent.handshakes.new_receive_queue()
        with self.store.transaction() as tx:
            connection_id = self.agent.handshakes.join(tx, receive, invitation)
            contact_id = self._add_contact(tx, connection_id, name)
        await self.agent.outbox.flush(force=True)
        return contact_id

    async def request(self, address: ContactAddressLink) -> int:
        receive = await self.agent.handshakes.new_receive_queue()
        with self.store.transaction() as tx:
            connection_id = self.agent.handshakes.request_contact(tx, receive, address)
            contact_id = self._add_contact(tx, connection_id, PENDING_CONTACT_NAME)
        await self.agent.outbox.flush(force=True)
        return contact_id

    @staticmethod
    def _add_contact(tx: Transaction, connection_id: int, name: str) -> int:
        contact = tx.contacts.add(Profile(name), ContactStatus.CONNECTING, time.time())
        tx.connections.set_contact(connection_id, contact.contact_id)
        return contact.contact_id

    async def send(self, contact_id: int, events: Sequence[bytes]) -> list[int]:
        with self.store.transaction() as tx:
            sequences = self.agent.send(tx, connection_of(tx, contact_id), events)
        await self.agent.outbox.flush(force=True)
        return sequences

    async def repair(self, contact_id: int) -> bool:
        with self.store.transaction() as tx:
            accepted = self.agent.repair(tx, connection_of(tx, contact_id))
            if accepted:
                mark_repaired(tx, contact_id, 0.0)
        await self.agent.outbox.flush(force=True)
        return accepted

    def connection(self, contact_id: int) -> Connection:
        with self.store.transaction() as tx:
            connection_id = connection_of(tx, contact_id)
        return self.agent.connection(connection_id)

    async def receive(self, idle: float = 0.05) -> list[AgentEvent]:
        """Process deliveries until ``idle`` seconds pass without one."""
        self.seen.clear()
        await self.agent.outbox.flush(force=True)
        await self.agent.inbox.subscribe()
        while batch := await self.agent.inbox.next_batch(idle):
            try:
                with self.store.transaction() as tx:
                    for item in self.agent.inbox.process(tx, batch):
                        contact_id = apply_connection_event(tx, item, time.time())
                        if self.failing:
                            raise RuntimeError("disk full")
                        self.seen.append((contact_id, item.event))
            except Exception:
                await self.agent.inbox.redeliver(batch)
                raise
            await self.agent.inbox.acknowledge(batch)
            await self.agent.handle_timer(time.time())
        return [event for _, event in self.seen]

    def contacts(self) -> dict[str, ContactStatus]:
        with self.store.transaction() as tx:
            return {c.alias: c.status for c in tx.contacts.list()}

    def texts(self) -> list[bytes]:
        return [e.event for _, e in self.seen if isinstance(e, ChatEventReceived)]


async def _pair(tmp_path: Path, relay: FakeRelay) -> tuple[Party, Party, int, int]:
    tmp_path.mkdir(exist_ok=True)
    alice, bob = Party(tmp_path, "Alice", relay), Party(tmp_path, "Bob", relay)
    bob_contact = await bob.join(await alice.invite())
    assert bob.contacts() == {"new contact": ContactStatus.CONNECTING}
    await alice.receive()
    assert ConnectionEstablished(Profile("Alice").to_handshake_bytes()) in await bob.receive()
    alice_contact = next(iter(alice.seen))[0]
    assert alice_contact is not None
    return alice, bob, alice_contact, bob_contact


async def test_handshake_names_both_contacts_and_messages_flow(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, alice_contact, bob_contact = await _pair(tmp_path, relay)
    assert alice.contacts() == {"Bob": ContactStatus.CONNECTED}
    assert bob.contacts() == {"Alice": ContactStatus.CONNECTED}
    await bob.send(bob_contact, [b"one", b"two"])
    await alice.receive()
    assert alice.texts() == [b"one", b"two"]
    assert str(alice.connection(alice_contact).security_code()) == str(
        bob.connection(bob_contact).security_code()
    )


async def test_sends_wait_in_the_outbox_while_the_relay_is_down(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, _, bob_contact = await _pair(tmp_path, relay)
    relay.down = True
    sequences = await bob.send(bob_contact, [b"a", b"b"])
    assert bob.agent.outbox.pending() == 2
    relay.down = False
    sequences += await bob.send(bob_contact, [b"c"])
    assert bob.agent.outbox.pending() == 0
    await alice.receive()
    assert alice.texts() == [b"a", b"b", b"c"]
    assert sequences == [2, 3, 4]  # the confirmation's first envelope was sequence 1


async def test_quota_holds_messages_back_in_order_until_the_peer_drains(tmp_path: Path) -> None:
    relay = FakeRelay(quota=3)
    alice, bob, _, bob_contact = await _pair(tmp_path, relay)
    events = [b"%d" % n for n in range(7)]
    await bob.send(bob_contact, events)
    assert bob.agent.outbox.pending() == 4
    received: list[bytes] = []
    while len(received) < len(events):
        await alice.receive()
        received += alice.texts()
        await bob.agent.outbox.flush(force=True)
    assert received == events


async def test_a_redelivered_message_is_processed_once(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, _, bob_contact = await _pair(tmp_path, relay)
    await bob.send(bob_contact, [b"once"])
    queue_id = next(iter(q for q in relay.queues.values() if q.messages)).recipient_id
    relay.redeliver(queue_id)
    await alice.receive()
    assert alice.texts() == [b"once"]


async def test_a_message_redelivered_after_the_ratchet_moved_on_is_dropped(
    tmp_path: Path,
) -> None:
    relay = FakeRelay()
    alice, bob, alice_contact, bob_contact = await _pair(tmp_path, relay)
    await bob.send(bob_contact, [b"one"])
    await alice.receive()
    first = relay.history[-1]
    await alice.send(alice_contact, [b"reply"])
    await bob.receive()
    await bob.send(bob_contact, [b"two"])  # a new chain
    await alice.receive()
    assert alice.texts() == [b"two"]
    # Its ACK was lost: the relay sends "one" again, after "two" turned the ratchet
    # (which no longer holds the old chain's header key to recognise it).
    relay.queues[first.recipient_id].messages.appendleft((first.message_id, first.body))
    relay.redeliver(first.recipient_id)
    assert await alice.receive() == []
    assert alice.contacts() == {"Bob": ContactStatus.CONNECTED}
    assert not relay.queues[first.recipient_id].messages


async def test_a_frame_sent_again_after_a_sender_crash_is_dropped(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, alice_contact, bob_contact = await _pair(tmp_path, relay)
    await bob.send(bob_contact, [b"one"])
    await alice.receive()
    first = relay.history[-1]
    await alice.send(alice_contact, [b"reply"])
    await bob.receive()
    await bob.send(bob_contact, [b"two"])  # a new chain
    await alice.receive()
    # Bob crashed after "one" reached the relay but before its outbox entry went: the
    # entry runs again, and the relay stores the same frame under a new message id.
    relay.arrive(first.recipient_id, b"\x05" * 24, first.body)
    assert await alice.receive() == []
    assert alice.contacts() == {"Bob": ContactStatus.CONNECTED}
    assert not relay.queues[first.recipient_id].messages


async def test_an_outbox_entry_sent_again_carries_the_same_frame(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, _, bob_contact = await _pair(tmp_path, relay)
    relay.answers_lost = True  # the relay stores the SEND, the sender never learns it
    await bob.send(bob_contact, [b"once"])
    relay.answers_lost = False
    assert bob.agent.outbox.pending() == 1
    await bob.agent.outbox.flush(force=True)
    queue_id = relay.history[-1].recipient_id
    (first_id, first), (second_id, second) = relay.queues[queue_id].messages
    assert first == second and first_id != second_id
    await alice.receive()
    assert alice.texts() == [b"once"]
    assert not relay.queues[queue_id].messages


async def test_a_handler_failure_rolls_back_and_the_message_comes_again(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, _, bob_contact = await _pair(tmp_path, relay)
    await bob.send(bob_contact, [b"retry me"])

    alice.failing = True
    with pytest.raises(RuntimeError):
        await alice.receive()
    alice.failing = False
    # Nothing was acknowledged: the agent subscribed again, so the relay sends the
    # message again, and the ratchet state that was rolled back can still decrypt it.
    await alice.receive()
    assert alice.texts() == [b"retry me"]


async def test_undecryptable_messages_mark_desync_only_in_a_row_and_a_good_one_clears_it(
    tmp_path: Path,
) -> None:
    relay = FakeRelay()
    alice, bob, alice_contact, bob_contact = await _pair(tmp_path, relay)
    with alice.store.transaction() as tx:
        (record,) = tx.connections.list()
    # Well-formed messages from some other ratchet, sealed to Alice's queue: what a
    # drifted peer looks like, and what one who has the link can make (F3).
    strangers = await _pair(tmp_path / "elsewhere", FakeRelay())
    stranger = strangers[1].connection(strangers[3])
    queues = alice.connection(alice_contact).queues
    key = queue_key(queues.frame_secret, queues.receive.sender_id)
    rng = SystemRandom()
    sent = [
        seal_queue_frame(
            key,
            FrameKind.RATCHET_MESSAGE,
            stranger.encrypt_payload(ChatPayload(b"?"), filled=True),
            rng,
        )
        for _ in range(DESYNC_THRESHOLD)
    ]
    for index, frame in enumerate(sent[:-1]):
        relay.arrive(record.receive_queue_id, bytes([index]) * 24, frame)
    assert await alice.receive() == []  # below the threshold: nothing is marked
    assert alice.contacts() == {"Bob": ContactStatus.CONNECTED}
    relay.arrive(record.receive_queue_id, b"x" * 24, sent[-1])
    assert [type(e) for e in await alice.receive()] == [DesyncDetected]
    assert alice.contacts() == {"Bob": ContactStatus.DESYNCHRONISED}
    # The peer's next real message decrypts: the mark goes.
    await bob.send(bob_contact, [b"still here"])
    events = await alice.receive()
    assert [type(e) for e in events] == [ChatEventReceived, SyncRestored]
    assert alice.contacts() == {"Bob": ContactStatus.CONNECTED}


async def test_contact_address_request_accept_and_delete(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, carol = Party(tmp_path, "Alice", relay), Party(tmp_path, "Carol", relay)
    address = await alice.agent.handshakes.create_address()
    assert alice.agent.handshakes.address() == address
    link = decode_link(address)
    assert isinstance(link, ContactAddressLink)
    carol_contact = await carol.request(link)
    (request,) = await alice.receive()
    assert isinstance(request, ContactRequestReceived)
    assert request.profile == Profile("Carol").to_handshake_bytes()
    invitation = decode_link(request.invitation_link)
    assert isinstance(invitation, InvitationLink)
    alice_contact = await alice.join(invitation_from_link(invitation), "Carol")
    await carol.receive()
    await alice.receive()
    assert alice.contacts() == {"Carol": ContactStatus.CONNECTED}
    assert carol.contacts() == {"Alice": ContactStatus.CONNECTED}
    await alice.agent.handshakes.delete_address()
    assert alice.agent.handshakes.address() is None
    await carol.send(carol_contact, [b"hi"])
    await alice.receive()
    assert alice.texts() == [b"hi"]
    assert alice_contact in {cid for cid, _ in alice.seen}


async def test_two_processes_on_one_profile_never_reuse_ratchet_state(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, _, bob_contact = await _pair(tmp_path, relay)
    # A second agent on Bob's database, as a `veil send` running beside a `veil chat`.
    other_store = ChatStore.open(tmp_path / "Bob.db", "pw")
    other = _agent(other_store, relay, Profile("Bob").to_handshake_bytes())
    for agent, store, text in (
        (bob.agent, bob.store, b"one"),
        (other, other_store, b"two"),
        (bob.agent, bob.store, b"three"),
    ):
        with store.transaction() as tx:
            agent.send(tx, connection_of(tx, bob_contact), [text])
        await agent.outbox.flush(force=True)
    await alice.receive()
    assert alice.texts() == [b"one", b"two", b"three"]
    assert {e.integrity for _, e in alice.seen if isinstance(e, ChatEventReceived)} == {"ok"}


async def test_a_contact_request_that_arrives_again_is_reported_once(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, carol = Party(tmp_path, "Alice", relay), Party(tmp_path, "Carol", relay)
    link = decode_link(await alice.agent.handshakes.create_address())
    assert isinstance(link, ContactAddressLink)
    await carol.request(link)
    assert [type(e) for e in await alice.receive()] == [ContactRequestReceived]
    request = relay.history[-1]
    # Carol sends it again after a crash (a new id), the relay after a lost ACK (same id).
    relay.arrive(request.recipient_id, b"\x06" * 24, request.body)
    relay.arrive(request.recipient_id, request.message_id, request.body)
    assert await alice.receive() == []
    assert not relay.queues[request.recipient_id].messages


async def test_a_relay_injected_repair_offer_is_dropped_and_a_real_repair_still_works(
    tmp_path: Path,
) -> None:
    relay = FakeRelay()
    alice, bob, alice_contact, bob_contact = await _pair(tmp_path, relay)
    with alice.store.transaction() as tx:
        (before,) = tx.connections.list()
    secrets = InvitationSecrets.generate(SystemRandom(), pq=False)
    forged = encode_frame(
        FrameKind.REPAIR_OFFER, RepairOffer(1, secrets.public.encode()).to_bytes()
    )
    relay.arrive(before.receive_queue_id, b"\x07" * 24, forged)
    assert await alice.receive() == []
    with alice.store.transaction() as tx:
        (after,) = tx.connections.list()
    assert (after.phase, after.queue_state) == (before.phase, before.queue_state)
    assert not relay.queues[before.receive_queue_id].messages  # dropped and acknowledged
    assert await bob.repair(bob_contact) is False
    assert [type(event) for event in await alice.receive()] == [RepairRequested]
    assert await alice.repair(alice_contact) is True
    assert [type(event) for event in await bob.receive()] == [ConnectionRepaired]


async def test_a_profile_the_application_cannot_read_drops_the_frame(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice = Party(tmp_path, "Alice", relay)
    # Mallory's agent carries profile bytes the chat layer's check rejects.
    mallory = Party(tmp_path, "Mallory", relay, profile=Profile("M").to_handshake_bytes() + b"!")
    await mallory.join(await alice.invite())
    assert await alice.receive() == []
    assert alice.contacts() == {}
    with alice.store.transaction() as tx:
        (record,) = tx.connections.list()
    assert record.phase == "inviter_awaits_confirmation"  # nothing of the frame was kept


async def test_sending_on_an_unknown_connection_is_a_local_error(tmp_path: Path) -> None:
    alice = Party(tmp_path, "Alice", FakeRelay())
    with alice.store.transaction() as tx, pytest.raises(UnknownConnection) as raised:
        alice.agent.send(tx, 42, [b"hello?"])
    assert isinstance(raised.value, LocalError)
    assert not isinstance(raised.value, ProtocolError)


async def test_a_failed_frame_leaves_the_cached_connection_as_it_was(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, alice_contact, bob_contact = await _pair(tmp_path, relay)
    before = alice.connection(alice_contact)
    before_state = (before.queues.to_bytes(), before.tracker.to_bytes())
    with alice.store.transaction() as tx:
        (record,) = tx.connections.list()
    relay.arrive(
        record.receive_queue_id, b"\x08" * 24, encode_frame(FrameKind.RATCHET_MESSAGE, b"x")
    )
    assert await alice.receive() == []
    assert (before.queues.to_bytes(), before.tracker.to_bytes()) == before_state
    await bob.send(bob_contact, [b"still fine"])
    await alice.receive()
    assert alice.texts() == [b"still fine"]
