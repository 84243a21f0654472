"""The agent runtime over an in-memory relay and real encrypted stores."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fake_relay import FakeRelay

from veil.agent.events import (
    AgentEvent,
    ChatEventReceived,
    ConnectionEstablished,
    ConnectionRepaired,
    ContactRequestReceived,
    DesyncDetected,
    RepairRequested,
)
from veil.agent.frames import FrameKind, encode_frame
from veil.agent.links import decode_link
from veil.agent.payloads import RepairOffer
from veil.agent.runtime import Agent
from veil.chat.profile import Profile
from veil.chat.store import ChatStore, ContactStatus, KdfParams, Transaction
from veil.crypto import SystemRandom
from veil.ratchet.agreement import InvitationSecrets

RELAY = "veil://" + "A" * 43 + "@relay.example"
FAST = KdfParams(iterations=1, lanes=1, memory_kib=64)

Seen = list[tuple[int | None, AgentEvent]]


class Party:
    def __init__(self, tmp_path: Path, name: str, relay: FakeRelay) -> None:
        self.store = ChatStore.create(tmp_path / f"{name}.db", "pw", kdf=FAST)
        self.agent = Agent(
            self.store, relay, Profile(name), [RELAY], rng=SystemRandom(), clock=time.time
        )
        self.seen: Seen = []

    def handle(self, tx: Transaction, contact_id: int | None, event: AgentEvent) -> None:
        self.seen.append((contact_id, event))

    async def receive(self) -> list[AgentEvent]:
        self.seen.clear()
        await self.agent.receive(self.handle, idle=0.05)
        return [event for _, event in self.seen]

    def contacts(self) -> dict[str, ContactStatus]:
        with self.store.transaction() as tx:
            return {c.alias: c.status for c in tx.contacts.list()}

    def texts(self) -> list[bytes]:
        return [e.event for _, e in self.seen if isinstance(e, ChatEventReceived)]


async def _pair(tmp_path: Path, relay: FakeRelay) -> tuple[Party, Party, int, int]:
    tmp_path.mkdir(exist_ok=True)
    alice, bob = Party(tmp_path, "Alice", relay), Party(tmp_path, "Bob", relay)
    _, invitation = await alice.agent.invite(pq=False)
    bob_contact = await bob.agent.join(invitation)
    assert bob.contacts() == {"new contact": ContactStatus.CONNECTING}
    await alice.receive()
    assert ConnectionEstablished(Profile("Alice")) in await bob.receive()
    alice_contact = next(iter(alice.seen))[0]
    assert alice_contact is not None
    return alice, bob, alice_contact, bob_contact


async def test_handshake_names_both_contacts_and_messages_flow(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, alice_contact, bob_contact = await _pair(tmp_path, relay)
    assert alice.contacts() == {"Bob": ContactStatus.CONNECTED}
    assert bob.contacts() == {"Alice": ContactStatus.CONNECTED}
    await bob.agent.send(bob_contact, [b"one", b"two"], lambda tx, sequences: None)
    await alice.receive()
    assert alice.texts() == [b"one", b"two"]
    assert str(alice.agent.security_code(alice_contact)) == str(
        bob.agent.security_code(bob_contact)
    )


async def test_sends_wait_in_the_outbox_while_the_relay_is_down(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, _, bob_contact = await _pair(tmp_path, relay)
    relay.down = True
    sequences: list[int] = []
    await bob.agent.send(bob_contact, [b"a", b"b"], lambda tx, seqs: sequences.extend(seqs))
    assert bob.agent.outbox.pending() == 2
    relay.down = False
    await bob.agent.send(bob_contact, [b"c"], lambda tx, seqs: sequences.extend(seqs))
    assert bob.agent.outbox.pending() == 0
    await alice.receive()
    assert alice.texts() == [b"a", b"b", b"c"]
    assert sequences == [2, 3, 4]  # the confirmation's first envelope was sequence 1


async def test_quota_holds_messages_back_in_order_until_the_peer_drains(tmp_path: Path) -> None:
    relay = FakeRelay(quota=3)
    alice, bob, _, bob_contact = await _pair(tmp_path, relay)
    events = [b"%d" % n for n in range(7)]
    await bob.agent.send(bob_contact, events, lambda tx, seqs: None)
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
    await bob.agent.send(bob_contact, [b"once"], lambda tx, seqs: None)
    alice.seen.clear()
    queue_id = next(iter(q for q in relay.queues.values() if q.messages)).recipient_id
    alice.agent._relays.redeliver(queue_id)  # type: ignore[attr-defined]
    await alice.agent.receive(alice.handle, idle=0.05)
    assert alice.texts() == [b"once"]


async def test_a_message_redelivered_after_the_ratchet_moved_on_is_dropped(
    tmp_path: Path,
) -> None:
    relay = FakeRelay()
    alice, bob, alice_contact, bob_contact = await _pair(tmp_path, relay)
    await bob.agent.send(bob_contact, [b"one"], lambda tx, seqs: None)
    await alice.receive()
    first = relay.history[-1]
    await alice.agent.send(alice_contact, [b"reply"], lambda tx, seqs: None)
    await bob.receive()
    await bob.agent.send(bob_contact, [b"two"], lambda tx, seqs: None)  # a new chain
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
    await bob.agent.send(bob_contact, [b"one"], lambda tx, seqs: None)
    await alice.receive()
    first = relay.history[-1]
    await alice.agent.send(alice_contact, [b"reply"], lambda tx, seqs: None)
    await bob.receive()
    await bob.agent.send(bob_contact, [b"two"], lambda tx, seqs: None)  # a new chain
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
    await bob.agent.send(bob_contact, [b"once"], lambda tx, seqs: None)
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
    await bob.agent.send(bob_contact, [b"retry me"], lambda tx, seqs: None)

    def failing(tx: Transaction, contact_id: int | None, event: AgentEvent) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        await alice.agent.receive(failing, idle=0.05)
    # Nothing was acknowledged: the agent subscribed again, so the relay sends the
    # message again, and the ratchet state that was rolled back can still decrypt it.
    await alice.receive()
    assert alice.texts() == [b"retry me"]


async def test_an_undecryptable_message_marks_the_contact_desynchronised(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice = (await _pair(tmp_path, relay))[0]
    with alice.store.transaction() as tx:
        (record,) = tx.connections.list()
    # A well-formed message from some other ratchet: what a drifted peer looks like.
    strangers = await _pair(tmp_path / "elsewhere", FakeRelay())
    other = strangers[1].agent.connection_for(strangers[3]).send_chat(b"?").frame
    relay.arrive(record.receive_queue_id, b"x" * 24, other)
    events = await alice.receive()
    assert [type(e) for e in events] == [DesyncDetected]
    assert alice.contacts() == {"Bob": ContactStatus.DESYNCHRONISED}


async def test_contact_address_request_accept_and_delete(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, carol = Party(tmp_path, "Alice", relay), Party(tmp_path, "Carol", relay)
    link = decode_link(await alice.agent.create_address())
    carol_contact = await carol.agent.request_contact(link)  # type: ignore[arg-type]
    (request,) = await alice.receive()
    assert isinstance(request, ContactRequestReceived) and request.profile == Profile("Carol")
    alice_contact = await alice.agent.accept_request(request.request_id)
    await carol.receive()
    await alice.receive()
    assert alice.contacts() == {"Carol": ContactStatus.CONNECTED}
    assert carol.contacts() == {"Alice": ContactStatus.CONNECTED}
    await alice.agent.delete_address()
    await carol.agent.send(carol_contact, [b"hi"], lambda tx, seqs: None)
    await alice.receive()
    assert alice.texts() == [b"hi"]
    with pytest.raises(ValueError, match="already accepted"):
        await alice.agent.accept_request(request.request_id)
    assert alice_contact in {cid for cid, _ in alice.seen}


async def test_two_processes_on_one_profile_never_reuse_ratchet_state(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob, _, bob_contact = await _pair(tmp_path, relay)
    # A second agent on Bob's database, as a `veil send` running beside a `veil chat`.
    other = Agent(
        ChatStore.open(tmp_path / "Bob.db", "pw"),
        relay,
        Profile("Bob"),
        [RELAY],
        rng=SystemRandom(),
        clock=time.time,
    )
    for agent, text in ((bob.agent, b"one"), (other, b"two"), (bob.agent, b"three")):
        await agent.send(bob_contact, [text], lambda tx, seqs: None)
    await alice.receive()
    assert alice.texts() == [b"one", b"two", b"three"]
    assert {e.integrity for _, e in alice.seen if isinstance(e, ChatEventReceived)} == {"ok"}


async def test_a_contact_request_that_arrives_again_is_stored_once(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, carol = Party(tmp_path, "Alice", relay), Party(tmp_path, "Carol", relay)
    link = decode_link(await alice.agent.create_address())
    await carol.agent.request_contact(link)  # type: ignore[arg-type]
    assert [type(e) for e in await alice.receive()] == [ContactRequestReceived]
    request = relay.history[-1]
    # Carol sends it again after a crash (a new id), the relay after a lost ACK (same id).
    relay.arrive(request.recipient_id, b"\x06" * 24, request.body)
    relay.arrive(request.recipient_id, request.message_id, request.body)
    assert await alice.receive() == []
    with alice.store.transaction() as tx:
        assert len(tx.requests.list()) == 1
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
    assert await bob.agent.repair(bob_contact) is False
    assert [type(event) for event in await alice.receive()] == [RepairRequested]
    assert await alice.agent.repair(alice_contact) is True
    assert [type(event) for event in await bob.receive()] == [ConnectionRepaired]
