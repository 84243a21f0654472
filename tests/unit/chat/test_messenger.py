"""The chat application in one process: Messenger and Conversation over an in-memory
relay (the agent's RelayPort, tests/helpers/fake_relay.py) and real encrypted stores.

The same flows as the CLI end-to-end tests, without processes, sockets or a relay
server, so chat logic is covered quickly and every step can be inspected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.fake_relay import FakeRelay
from veil.agent.queues import SendQueue
from veil.agent.relays import RelayUnavailable
from veil.chat.app import Messenger
from veil.chat.contacts import connection_of
from veil.chat.conversation import Incoming
from veil.chat.errors import ContactNotConnected, IncompleteSecurityCode, RecordNotFound
from veil.chat.events import MessageEdited, ProfileUpdated, encode_event
from veil.chat.profile import Profile
from veil.chat.store import (
    ContactStatus,
    Deletion,
    Direction,
    KdfParams,
    MessageRecord,
    Reaction,
    Receipt,
    RequestStatus,
)
from veil.errors import LocalError

RELAY = "veil://" + "A" * 43 + "@relay.example"
FAST = KdfParams(iterations=1, lanes=1, memory_kib=64)


class User:
    """A Messenger on its own store, and what its last ``receive`` reported."""

    def __init__(self, tmp_path: Path, name: str, relay: FakeRelay) -> None:
        store = Messenger.create(tmp_path / name, "pw", name, [RELAY], kdf=FAST)
        self.messenger = Messenger(store, relays=relay, pq=False)
        self.arrived: list[Incoming] = []

    async def receive(self) -> list[Incoming]:
        self.arrived = []
        await self.messenger.receive(idle=0.05, on_incoming=self.arrived.append)
        return self.arrived

    def contact_id(self, alias: str) -> int:
        return self.messenger.contact(alias).contact_id

    def history(self, alias: str) -> list[MessageRecord]:
        contact_id = self.contact_id(alias)
        with self.messenger.store.transaction() as tx:
            return tx.messages.history(contact_id)

    def statuses(self) -> dict[str, ContactStatus]:
        return {c.alias: c.status for c in self.messenger.contacts()}


async def _connected(tmp_path: Path, relay: FakeRelay | None = None) -> tuple[User, User]:
    relay = relay or FakeRelay()
    alice, bob = User(tmp_path, "Alice", relay), User(tmp_path, "Bob", relay)
    contact = await bob.messenger.connect(await alice.messenger.invite())
    assert (contact.alias, contact.status) == ("new contact", ContactStatus.CONNECTING)
    assert [(i.kind, i.contact, i.text) for i in await alice.receive()] == [
        ("connected", "Bob", "Bob")
    ]
    assert [(i.kind, i.contact, i.text) for i in await bob.receive()] == [
        ("connected", "Alice", "Alice")
    ]
    return alice, bob


async def test_connecting_names_both_contacts(tmp_path: Path) -> None:
    alice, bob = await _connected(tmp_path)
    assert alice.statuses() == {"Bob": ContactStatus.CONNECTED}
    assert bob.statuses() == {"Alice": ContactStatus.CONNECTED}
    (relays,) = alice.messenger.relays_of(alice.messenger.contact("Bob"))
    assert (relays.receive, relays.send) == (RELAY, RELAY)


async def test_messages_arrive_in_order_and_receipts_come_back(tmp_path: Path) -> None:
    alice, bob = await _connected(tmp_path)
    sent = await bob.messenger.conversation.send_texts(bob.contact_id("Alice"), ["one", "two"])
    # The relay accepted them: sent (not pending) until the receipt says delivered.
    assert [(m.text, m.receipt, m.sequence) for m in sent] == [
        ("one", Receipt.SENT, 2),
        ("two", Receipt.SENT, 3),
    ]
    arrived = await alice.receive()
    assert [(i.kind, i.contact, i.text, i.integrity) for i in arrived] == [
        ("message", "Bob", "one", "ok"),
        ("message", "Bob", "two", "ok"),
    ]
    assert [(m.text, m.direction) for m in alice.history("Bob")] == [
        ("one", Direction.RECEIVED),
        ("two", Direction.RECEIVED),
    ]
    assert await bob.receive() == []  # the receipt is not shown, it is applied
    assert [m.receipt for m in bob.history("Alice")] == [Receipt.DELIVERED] * 2


async def test_a_reply_points_at_the_message_it_answers(tmp_path: Path) -> None:
    alice, bob = await _connected(tmp_path)
    await bob.messenger.conversation.send_texts(bob.contact_id("Alice"), ["question?"])
    (question,) = await alice.receive()
    assert question.row_id is not None
    await alice.messenger.conversation.send_texts(
        alice.contact_id("Bob"), ["answer"], reply_to=question.row_id
    )
    await bob.receive()
    asked, answered = bob.history("Alice")
    assert answered.reply_to == asked.message_id
    with pytest.raises(RecordNotFound):  # a row of another conversation cannot be quoted
        await bob.messenger.conversation.send_texts(
            bob.contact_id("Alice"), ["x"], reply_to=question.row_id + 100
        )


async def test_edits_and_deletes_reach_the_contact(tmp_path: Path) -> None:
    alice, bob = await _connected(tmp_path)
    conversation, contact_id = bob.messenger.conversation, bob.contact_id("Alice")
    first, second = await conversation.send_texts(contact_id, ["frist", "oops"])
    await alice.receive()
    await conversation.edit(contact_id, first.row_id, "first")
    await conversation.delete(contact_id, second.row_id, for_everyone=True)
    arrived = await alice.receive()
    assert [(i.kind, i.text) for i in arrived] == [("edit", "first"), ("delete", "")]
    edited, deleted = alice.history("Bob")
    assert (edited.text, edited.edited) == ("first", True)
    assert (deleted.text, deleted.deletion) == (None, Deletion.FOR_EVERYONE)
    with pytest.raises(ValueError, match="deleted"):
        await conversation.edit(contact_id, second.row_id, "back")
    with pytest.raises(ValueError, match="only your own"):
        await alice.messenger.conversation.edit(alice.contact_id("Bob"), edited.row_id, "no")


async def test_deleting_for_me_sends_nothing(tmp_path: Path) -> None:
    alice, bob = await _connected(tmp_path)
    (message,) = await bob.messenger.conversation.send_texts(bob.contact_id("Alice"), ["hi"])
    await alice.receive()
    (received,) = alice.history("Bob")
    await alice.messenger.conversation.delete(
        alice.contact_id("Bob"), received.row_id, for_everyone=False
    )
    assert alice.history("Bob")[0].deletion is Deletion.FOR_ME
    assert await bob.receive() == []
    assert bob.history("Alice")[0].text == message.text


async def test_reactions_are_set_and_withdrawn_on_both_sides(tmp_path: Path) -> None:
    alice, bob = await _connected(tmp_path)
    await bob.messenger.conversation.send_texts(bob.contact_id("Alice"), ["nice"])
    (arrived,) = await alice.receive()
    assert arrived.row_id is not None
    conversation, bob_id = alice.messenger.conversation, alice.contact_id("Bob")
    await conversation.react(bob_id, arrived.row_id, "👍", added=True)
    assert [(i.kind, i.text) for i in await bob.receive()] == [("reaction", "👍")]
    assert bob.history("Alice")[0].reactions == (Reaction(Direction.RECEIVED, "👍"),)
    assert alice.history("Bob")[0].reactions == (Reaction(Direction.SENT, "👍"),)
    await conversation.react(bob_id, arrived.row_id, "👍", added=False)
    assert [(i.kind, i.text) for i in await bob.receive()] == [("reaction", "")]
    assert bob.history("Alice")[0].reactions == ()


async def test_a_contact_request_through_the_address_is_accepted(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, carol = User(tmp_path, "Alice", relay), User(tmp_path, "Carol", relay)
    address = await alice.messenger.create_address()
    assert alice.messenger.address() == address
    pending = await carol.messenger.connect(address)
    assert (pending.alias, pending.status) == ("new contact", ContactStatus.CONNECTING)
    (request,) = await alice.receive()
    assert (request.kind, request.text) == ("request", "Carol")
    (stored,) = alice.messenger.requests()
    assert (stored.request_id, stored.profile) == (request.request_id, Profile("Carol"))
    contact = await alice.messenger.accept(stored.request_id)
    assert (contact.alias, contact.status) == ("Carol", ContactStatus.CONNECTING)
    assert [i.kind for i in await carol.receive()] == ["connected"]
    assert [i.kind for i in await alice.receive()] == ["connected"]
    assert alice.statuses() == {"Carol": ContactStatus.CONNECTED}
    assert carol.statuses() == {"Alice": ContactStatus.CONNECTED}
    assert alice.messenger.requests() == []
    with pytest.raises(ValueError, match="already accepted"):
        await alice.messenger.accept(stored.request_id)
    await alice.messenger.delete_address()
    assert alice.messenger.address() is None
    await carol.messenger.conversation.send_texts(carol.contact_id("Alice"), ["still here"])
    assert [i.text for i in await alice.receive()] == ["still here"]


async def test_a_rejected_request_sends_nothing(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, carol = User(tmp_path, "Alice", relay), User(tmp_path, "Carol", relay)
    await carol.messenger.connect(await alice.messenger.create_address())
    (request,) = await alice.receive()
    assert request.request_id is not None
    alice.messenger.reject(request.request_id)
    with alice.messenger.store.transaction() as tx:
        assert tx.requests.get(request.request_id).status is RequestStatus.REJECTED
    assert await carol.receive() == []
    assert carol.statuses() == {"new contact": ContactStatus.CONNECTING}


async def test_security_codes_match_and_a_repair_clears_verification(tmp_path: Path) -> None:
    alice, bob = await _connected(tmp_path)
    code = alice.messenger.verify("Bob", None).ours
    check = bob.messenger.verify("Alice", code)
    assert check.verified and not check.pq  # these tests run without ML-KEM, for speed
    assert check.code_version == check.ratchet_version == 2
    with pytest.raises(IncompleteSecurityCode, match="has 5 digits"):
        alice.messenger.verify("Bob", "12345")
    assert not alice.messenger.verify("Bob", "0" * 60).verified
    assert await bob.messenger.repair("Alice") is False  # an offer: Alice must consent
    assert [i.kind for i in await alice.receive()] == ["repair-request"]
    assert await alice.messenger.repair("Bob") is True
    assert [i.kind for i in await bob.receive()] == ["repaired"]
    assert not bob.messenger.contact("Alice").verified
    assert bob.messenger.verify("Alice", None).ours != code
    await bob.messenger.conversation.send_texts(bob.contact_id("Alice"), ["new keys"])
    assert [i.text for i in await alice.receive()] == ["new keys"]


async def test_sending_to_a_contact_without_a_connection_is_a_local_error(
    tmp_path: Path,
) -> None:
    alice = User(tmp_path, "Alice", FakeRelay())
    with alice.messenger.store.transaction() as tx:
        contact = tx.contacts.add(Profile("Ghost"), ContactStatus.DELETED, 0.0)
    with pytest.raises(ContactNotConnected, match="Ghost has no connection") as raised:
        await alice.messenger.conversation.send_texts(contact.contact_id, ["boo"])
    assert isinstance(raised.value, LocalError)
    assert alice.history("Ghost") == []


class _FlakyRelay(FakeRelay):
    """Refuses the next ``failures`` sends, as a relay that restarts would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def send(self, queue: SendQueue, body: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise RelayUnavailable("restarting")
        await super().send(queue, body)


async def test_the_receive_loop_retries_a_failed_send_when_its_backoff_expires(
    tmp_path: Path,
) -> None:
    relay = _FlakyRelay()
    alice, bob = User(tmp_path, "Alice", relay), User(tmp_path, "Bob", relay)
    await bob.messenger.connect(await alice.messenger.invite())
    await alice.receive()
    await bob.receive()
    relay.failures = 2  # the send itself, and the flush when receiving starts
    await bob.messenger.conversation.send_texts(bob.contact_id("Alice"), ["eventually"])
    assert bob.messenger.pending_sends() == 1
    next_try = bob.messenger.agent.next_timer()
    assert next_try is not None  # the outbox's timer is armed for the retry
    # Nothing arrives for Bob; his loop wakes on the outbox's timer, not on a delivery.
    await bob.messenger.receive(idle=3.0, on_incoming=lambda _: None)
    assert bob.messenger.pending_sends() == 0
    assert bob.messenger.agent.next_timer() is None
    assert [i.text for i in await alice.receive()] == ["eventually"]


async def _send_raw(user: User, alias: str, events: list[bytes]) -> None:
    """Send chat events the application has no command for (yet), through the agent."""
    contact_id = user.contact_id(alias)
    with user.messenger.store.transaction() as tx:
        user.messenger.agent.send(tx, connection_of(tx, contact_id), events)
    await user.messenger.agent.outbox.flush(force=True)


async def test_profile_updates_bad_events_and_unknown_targets_are_applied_or_reported(
    tmp_path: Path,
) -> None:
    alice, bob = await _connected(tmp_path)
    renamed = Profile("Robert", bio="builds things")
    unknown = MessageEdited(bytes(16), "edit of nothing")
    await _send_raw(bob, "Alice", [encode_event(ProfileUpdated(renamed)), b"\xff junk"])
    await _send_raw(bob, "Alice", [encode_event(unknown)])
    arrived = await alice.receive()
    assert [(i.kind, i.contact) for i in arrived] == [
        ("profile", "Bob"),
        ("error", "Bob"),
        ("error", "Bob"),
    ]
    assert arrived[0].text == "Robert"
    assert "newer Veil" in arrived[1].text and "unknown message" in arrived[2].text
    contact = alice.messenger.contact("Bob")  # the alias is the user's own, it stays
    assert contact.profile == renamed
    assert alice.history("Bob") == []


async def test_a_message_queued_while_the_relay_was_down_becomes_sent_once_it_goes_out(
    tmp_path: Path,
) -> None:
    relay = FakeRelay()
    alice, bob = await _connected(tmp_path, relay)
    relay.down = True
    (queued,) = await alice.messenger.conversation.send_texts(alice.contact_id("Bob"), ["later"])
    assert queued.receipt is Receipt.PENDING
    relay.down = False
    await alice.receive()  # the outbox runs with the next command
    assert [m.receipt for m in alice.history("Bob")] == [Receipt.SENT]
    assert [i.text for i in await bob.receive()] == ["later"]
