"""Every relay command's success and error paths, in process (no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from helpers.relay_harness import IDENTITY, Relay
from veil.crypto import X25519KeyPair
from veil.relay.client.session import ClientSession, QueueKeys, open_delivery
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import (
    AuthFailed,
    BadCommand,
    CommandProhibited,
    ErrorCode,
    InternalError,
    MalformedTransmission,
    MessageTooLarge,
    NoMessage,
    QuotaExceeded,
    StoreFailed,
    UnknownCommand,
)
from veil.relay.protocol.handshake import ClientHello
from veil.relay.protocol.queue_crypto import derive_auth_key
from veil.relay.protocol.transmission import encode_transmission
from veil.relay.server import authorization
from veil.relay.server.settings import DAY_SECONDS, RelaySettings
from veil.relay.server.store.base import StoreChange, coarse_time
from veil.relay.server.store.memory import MemoryStore
from veil.wire import DecodeError, NoCommonVersion, VersionRange
from veil.wire.blocks import BLOCK_SIZE, encode_block

KEY = X25519KeyPair(b"\x07" * 32).public


def err(code: int) -> rsp.ErrorResponse:
    return rsp.ErrorResponse(code)


@pytest.fixture
async def relay() -> Relay:
    return await Relay().start()


async def test_new_returns_two_unrelated_ids(relay: Relay) -> None:
    alice = await relay.client()
    first, second = await alice.new_queue(), await alice.new_queue()
    ids = {first.recipient_id, first.sender_id, second.recipient_id, second.sender_id}
    assert len(ids) == 4
    assert all(len(i) == 24 for i in ids)
    assert relay.service.metrics.queues == 2


async def test_send_subscribe_deliver_acknowledge(relay: Relay) -> None:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    assert await bob.call(bob.send(queue, b"hello", cmd.FLAG_NOTIFY)) == rsp.Ok()
    assert await alice.call(alice.recipient(cmd.Subscribe(), queue)) == rsp.Ok()
    [push] = alice.pushes
    assert push.is_push and push.entity_id == queue.recipient_id
    assert isinstance(push.response, rsp.Message)
    opened = open_delivery(queue.delivery_key, push.response)
    assert (opened.body, opened.flags) == (b"hello", 1)
    assert opened.timestamp == coarse_time(relay.clock.now)
    ack = alice.recipient(cmd.Acknowledge(push.response.message_id), queue)
    assert await alice.call(ack) == rsp.Ok()
    assert await alice.call(alice.recipient(cmd.GetMessage(), queue)) == err(NoMessage.code)


async def test_subscriber_gets_messages_as_they_arrive_one_at_a_time(relay: Relay) -> None:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    await alice.ok(alice.recipient(cmd.Subscribe(), queue))
    await bob.ok(bob.send(queue, b"one"))
    await bob.ok(bob.send(queue, b"two"))
    [first] = alice.take_replies()
    assert isinstance(first.response, rsp.Message)
    assert open_delivery(queue.delivery_key, first.response).body == b"one"
    await alice.ok(alice.recipient(cmd.Acknowledge(first.response.message_id), queue))
    [second] = alice.pushes
    assert isinstance(second.response, rsp.Message)
    assert open_delivery(queue.delivery_key, second.response).body == b"two"


async def test_delivered_bytes_share_nothing_with_sent_bytes(relay: Relay) -> None:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    body = bytes(range(256)) * 4
    await bob.ok(bob.send(queue, body))
    _, transmission = alice.recipient(cmd.GetMessage(), queue)
    await alice.session.handle_block(encode_block([transmission]))
    await relay.service.settle()
    [block] = alice.received
    assert body[:16] not in block
    assert body[-16:] not in block


async def test_password_protects_queue_creation() -> None:
    relay = await Relay(settings=RelaySettings(password="s3cret")).start()
    alice = await relay.client()
    with pytest.raises(AuthFailed):
        await alice.new_queue()
    with pytest.raises(AuthFailed):
        await alice.new_queue(b"wrong")
    queue = await alice.new_queue(b"s3cret")
    assert len(queue.sender_id) == 24


async def test_fast_handshake_sender_secures_queue(relay: Relay) -> None:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.new_queue()
    sender = X25519KeyPair.generate(bob.rng)
    assert await bob.call(bob.client.sender_secure(queue.sender_id, sender)) == rsp.Ok()
    # A retry with the same key is harmless; another key is refused.
    assert await bob.call(bob.client.sender_secure(queue.sender_id, sender)) == rsp.Ok()
    intruder = X25519KeyPair.generate(bob.rng)
    assert await bob.call(bob.client.sender_secure(queue.sender_id, intruder)) == err(
        AuthFailed.code
    )
    other = alice.client.secure(queue.recipient_id, queue.keys, intruder.public)
    assert await alice.call(other) == err(CommandProhibited.code)
    queue.sender_auth = sender
    assert await bob.call(bob.send(queue, b"hi")) == rsp.Ok()


async def test_send_to_unsecured_queue_is_refused(relay: Relay) -> None:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.new_queue()
    queue.sender_auth = X25519KeyPair.generate(bob.rng)
    assert await bob.call(bob.send(queue, b"early")) == err(AuthFailed.code)


async def test_send_with_wrong_key_or_unknown_queue_is_auth_error(relay: Relay) -> None:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    sender_auth = queue.sender_auth
    queue.sender_auth = X25519KeyPair.generate(bob.rng)
    assert await bob.call(bob.send(queue, b"x")) == err(AuthFailed.code)
    queue.sender_auth, queue.sender_id = sender_auth, bytes(24)
    assert await bob.call(bob.send(queue, b"x")) == err(AuthFailed.code)


async def test_recipient_command_with_sender_key_is_auth_error(relay: Relay) -> None:
    alice = await relay.client()
    queue = await alice.secured_queue()
    assert queue.sender_auth is not None
    forged = alice.client.command(
        cmd.GetMessage(), entity_id=queue.recipient_id, auth=queue.sender_auth
    )
    assert await alice.call(forged) == err(AuthFailed.code)


async def test_commands_are_bound_to_their_session(relay: Relay) -> None:
    alice, mallory = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    replayed = alice.recipient(cmd.Subscribe(), queue)
    assert await mallory.call(replayed) == err(AuthFailed.code)


async def test_new_subscriber_ends_previous_subscription(relay: Relay) -> None:
    alice, alice_phone, bob = await relay.client(), await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    await alice.ok(alice.recipient(cmd.Subscribe(), queue))
    takeover = alice_phone.client.recipient_command(cmd.Subscribe(), queue.recipient_id, queue.keys)
    assert await alice_phone.call(takeover) == rsp.Ok()
    [end] = alice.take_replies()
    assert end.is_push and end.response == rsp.SubscriptionEnded()
    assert end.entity_id == queue.recipient_id
    await bob.ok(bob.send(queue, b"to the phone"))
    assert alice.take_replies() == []
    [delivery] = alice_phone.take_replies()
    assert isinstance(delivery.response, rsp.Message)


async def test_quota_is_enforced_and_recovers_after_drain() -> None:
    relay = await Relay(settings=RelaySettings(queue_quota=3)).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    for index in range(3):
        await bob.ok(bob.send(queue, b"m%d" % index))
    assert await bob.call(bob.send(queue, b"full")) == err(QuotaExceeded.code)
    message = await alice.ok(alice.recipient(cmd.GetMessage(), queue))
    assert isinstance(message, rsp.Message)
    await alice.ok(alice.recipient(cmd.Acknowledge(message.message_id), queue))
    assert await bob.call(bob.send(queue, b"again")) == rsp.Ok()


async def test_quota_counts_sends_still_committing() -> None:
    relay = await Relay(settings=RelaySettings(queue_quota=2)).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    requests = [bob.send(queue, b"%d" % i) for i in range(3)]
    replies = await bob.send_block([transmission for _, transmission in requests])
    answers = {reply.correlation_id: reply.response for reply in replies}
    assert [answers[c] for c, _ in requests] == [rsp.Ok(), rsp.Ok(), err(QuotaExceeded.code)]


async def test_messages_expire_after_retention() -> None:
    relay = await Relay(settings=RelaySettings(retention_seconds=DAY_SECONDS)).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    await bob.ok(bob.send(queue, b"old"))
    relay.clock.now += DAY_SECONDS / 2
    await bob.ok(bob.send(queue, b"new"))
    relay.clock.now += DAY_SECONDS / 2 + 2 * 3600
    await relay.service.expire()
    message = await alice.ok(alice.recipient(cmd.GetMessage(), queue))
    assert isinstance(message, rsp.Message)
    assert open_delivery(queue.delivery_key, message).body == b"new"
    assert relay.service.metrics.messages_expired == 1
    restarted = await Relay(relay.store, seed=b"second").start()
    assert restarted.service.metrics.messages_pending == 1


async def test_suspended_queue_refuses_sends_but_drains(relay: Relay) -> None:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    await bob.ok(bob.send(queue, b"before"))
    assert await alice.call(alice.recipient(cmd.SuspendQueue(), queue)) == rsp.Ok()
    assert await alice.call(alice.recipient(cmd.SuspendQueue(), queue)) == rsp.Ok()
    assert await bob.call(bob.send(queue, b"after")) == err(AuthFailed.code)
    message = await alice.ok(alice.recipient(cmd.GetMessage(), queue))
    assert isinstance(message, rsp.Message)


async def test_delete_removes_queue_and_ends_subscription(relay: Relay) -> None:
    alice, other, bob = await relay.client(), await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    await bob.ok(bob.send(queue, b"doomed"))
    await other.ok(other.client.recipient_command(cmd.Subscribe(), queue.recipient_id, queue.keys))
    other.take_replies()
    assert await alice.call(alice.recipient(cmd.DeleteQueue(), queue)) == rsp.Ok()
    [end] = other.take_replies()
    assert end.response == rsp.SubscriptionEnded()
    assert await alice.call(alice.recipient(cmd.Subscribe(), queue)) == err(AuthFailed.code)
    assert await bob.call(bob.send(queue, b"late")) == err(AuthFailed.code)
    assert relay.service.metrics.queues == 0
    assert relay.service.metrics.messages_pending == 0


async def test_acknowledge_of_wrong_message_is_no_msg(relay: Relay) -> None:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    ack = cmd.Acknowledge(bytes(24))
    assert await alice.call(alice.recipient(ack, queue)) == err(NoMessage.code)
    await bob.ok(bob.send(queue, b"x"))
    assert await alice.call(alice.recipient(ack, queue)) == err(NoMessage.code)


async def test_second_key_is_prohibited_but_same_key_is_idempotent(relay: Relay) -> None:
    alice = await relay.client()
    queue = await alice.secured_queue()
    assert queue.sender_auth is not None
    same = alice.client.secure(queue.recipient_id, queue.keys, queue.sender_auth.public)
    assert await alice.call(same) == rsp.Ok()
    other = alice.client.secure(queue.recipient_id, queue.keys, bytes(range(32)))
    assert await alice.call(other) == err(CommandProhibited.code)


async def test_ping(relay: Relay) -> None:
    alice = await relay.client()
    assert await alice.call(alice.client.ping()) == rsp.Pong()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\x7f", UnknownCommand),
        (b"\x0a\x00", BadCommand),  # PING with a trailing byte
        (b"\x05\x00\x3e\x81" + bytes(16_001), MessageTooLarge),
        (b"\x05\x80\x00\x00", BadCommand),  # unknown SEND flag
    ],
)
async def test_bad_commands_get_error_answers(
    relay: Relay, body: bytes, error: type[Exception]
) -> None:
    alice = await relay.client()
    transmission = encode_transmission(b"", b"\x01" * 24, b"", body)
    [reply] = await alice.send_block([transmission])
    assert reply.response == err(error.code)  # type: ignore[attr-defined]


async def test_entity_rules_are_checked(relay: Relay) -> None:
    alice = await relay.client()
    queue = await alice.secured_queue()
    no_entity = alice.client.command(cmd.Subscribe(), auth=queue.keys.auth)
    assert await alice.call(no_entity) == err(BadCommand.code)
    keys = queue.keys
    with_entity = alice.client.command(
        cmd.CreateQueue(keys.auth.public, keys.dh.public), entity_id=bytes(24), auth=keys.auth
    )
    assert await alice.call(with_entity) == err(BadCommand.code)


async def test_unusable_recipient_dh_key_is_rejected(relay: Relay) -> None:
    alice = await relay.client()
    auth = X25519KeyPair.generate(alice.rng)
    low_order = bytes(32)
    request = alice.client.command(cmd.CreateQueue(auth.public, low_order), auth=auth)
    assert await alice.call(request) == err(BadCommand.code)


@pytest.mark.parametrize(
    "block",
    [
        bytes(BLOCK_SIZE),  # zero transmissions
        b"\x01\x00\x05hello" + bytes(BLOCK_SIZE - 8),  # transmission header truncated
        b"\x01" + bytes(BLOCK_SIZE - 2),  # truncated block
        b"\x01\xff\xff" + bytes(BLOCK_SIZE - 3),  # oversized length
    ],
)
async def test_malformed_blocks_close_only_that_connection(relay: Relay, block: bytes) -> None:
    alice, bob = await relay.client(), await relay.client()
    with pytest.raises((DecodeError, MalformedTransmission)):
        await alice.session.handle_block(block)
    alice.session.close()
    assert await bob.call(bob.client.ping()) == rsp.Pong()


async def test_wrong_version_hello_closes(relay: Relay) -> None:
    session = relay.service.open_session(lambda block: None)
    with pytest.raises(NoCommonVersion):
        await session.handle_block(ClientHello(VersionRange(7, 9)).encode())


async def test_auth_failure_costs_the_same_with_or_without_queue(
    relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, mallory = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    calls: list[bytes] = []

    def counting(own: X25519KeyPair, peer: bytes) -> bytes:
        calls.append(peer)
        return derive_auth_key(own, peer)

    monkeypatch.setattr("veil.relay.server.authorization.derive_auth_key", counting)
    guess = replace(queue, keys=QueueKeys.generate(mallory.rng))
    existing = mallory.recipient(cmd.GetMessage(), guess)
    missing = mallory.recipient(cmd.GetMessage(), replace(guess, recipient_id=bytes(24)))
    for _ in range(2):  # failures are never cached, so repeats cost the same too
        assert await mallory.call(existing) == err(ErrorCode.AUTH)
        assert await mallory.call(missing) == err(ErrorCode.AUTH)
    assert calls == [queue.keys.auth.public, authorization.DUMMY_AUTH_KEY] * 2


async def test_restart_restores_queues_and_pending_messages() -> None:
    store = MemoryStore()
    first = await Relay(store).start()
    alice, bob = await first.client(), await first.client()
    queue = await alice.secured_queue()
    await bob.ok(bob.send(queue, b"survives"))
    await first.service.close()
    second = await Relay(store, seed=b"second").start()
    alice_again = await second.client()
    message = await alice_again.ok(alice_again.recipient(cmd.GetMessage(), queue))
    assert isinstance(message, rsp.Message)
    assert open_delivery(queue.delivery_key, message).body == b"survives"


class FailingStore(MemoryStore):
    """A store whose commits fail once ``broken`` is set."""

    broken = False

    async def apply(self, changes: Sequence[StoreChange]) -> None:
        if self.broken:
            raise StoreFailed("disk on fire")
        await super().apply(changes)


async def test_store_failure_answers_internal_error_not_ok() -> None:
    store = FailingStore()
    relay = await Relay(store).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    store.broken = True
    assert await bob.call(bob.send(queue, b"lost")) == err(InternalError.code)
    store.broken = False
    assert await alice.call(alice.recipient(cmd.GetMessage(), queue)) == err(NoMessage.code)
    assert await bob.call(bob.send(queue, b"kept")) == rsp.Ok()


async def test_many_sends_in_one_block_share_one_commit(relay: Relay) -> None:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    assert isinstance(relay.store, MemoryStore)
    commits_before = relay.store.commits
    requests = [bob.send(queue, b"%d" % i) for i in range(100)]
    replies = await bob.send_block([transmission for _, transmission in requests])
    assert [r.response for r in replies] == [rsp.Ok()] * 100
    assert relay.store.commits == commits_before + 1


async def test_expiry_hands_the_subscriber_the_next_message() -> None:
    relay = await Relay(settings=RelaySettings(retention_seconds=DAY_SECONDS)).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    await alice.ok(alice.recipient(cmd.Subscribe(), queue))
    await bob.ok(bob.send(queue, b"stale"))
    relay.clock.now += DAY_SECONDS + 2 * 3600
    await bob.ok(bob.send(queue, b"fresh"))
    [stale] = alice.take_replies()
    await relay.service.expire()
    [fresh] = alice.take_replies()
    assert isinstance(fresh.response, rsp.Message)
    assert open_delivery(queue.delivery_key, fresh.response).body == b"fresh"
    assert isinstance(stale.response, rsp.Message)
    stale_ack = alice.recipient(cmd.Acknowledge(stale.response.message_id), queue)
    assert await alice.call(stale_ack) == err(NoMessage.code)


class GatedStore(MemoryStore):
    """A store whose commits wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def apply(self, changes: Sequence[StoreChange]) -> None:
        await self.gate.wait()
        await super().apply(changes)


async def test_a_connection_waits_when_too_many_blocks_await_the_store() -> None:
    store = GatedStore()
    relay = await Relay(store, settings=RelaySettings(max_pipelined_blocks=2)).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    store.gate.clear()
    await bob.session.handle_block(encode_block([bob.send(queue, b"1")[1]]))
    second = asyncio.create_task(bob.session.handle_block(encode_block([bob.send(queue, b"2")[1]])))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not second.done()
    store.gate.set()
    await second
    await relay.service.settle()
    assert [reply.response for reply in bob.take_replies()] == [rsp.Ok(), rsp.Ok()]


async def test_a_failing_push_closes_only_that_session(relay: Relay) -> None:
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()

    def broken_push(block: bytes) -> None:
        raise ConnectionError("socket gone")

    broken = relay.service.open_session(broken_push)
    client = ClientSession.accept_hello(broken.hello, IDENTITY.public, alice.rng)
    await broken.handle_block(client.client_hello)
    _, subscribe = client.recipient_command(cmd.Subscribe(), queue.recipient_id, queue.keys)
    await broken.handle_block(encode_block([subscribe]))
    assert relay.service.metrics.sessions_active == 2
    assert await bob.call(bob.send(queue, b"still served")) == rsp.Ok()
    message = await alice.ok(alice.recipient(cmd.GetMessage(), queue))
    assert isinstance(message, rsp.Message)


@pytest.mark.parametrize(
    "options",
    [
        {"retention_seconds": 0},
        {"queue_quota": 0},
        {"password": ""},
        {"password": "x" * 256},
        {"expiry_interval_seconds": -1},
        {"max_pipelined_blocks": 0},
        {"max_cached_auth_keys": 0},
    ],
)
def test_settings_refuse_nonsense(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RelaySettings(**options)


async def test_failed_commits_leave_memory_as_the_store_has_it() -> None:
    store = FailingStore()
    relay = await Relay(store).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    await bob.ok(bob.send(queue, b"kept"))
    fresh = await alice.new_queue()
    message = await alice.ok(alice.recipient(cmd.GetMessage(), queue))
    assert isinstance(message, rsp.Message)
    store.broken = True
    internal = err(InternalError.code)
    assert await alice.call(alice.recipient(cmd.Acknowledge(message.message_id), queue)) == internal
    assert await alice.call(alice.client.secure(fresh.recipient_id, fresh.keys, KEY)) == internal
    assert await alice.call(alice.recipient(cmd.SuspendQueue(), queue)) == internal
    assert await alice.call(alice.recipient(cmd.DeleteQueue(), queue)) == internal
    store.broken = False
    assert await alice.call(alice.recipient(cmd.GetMessage(), queue)) == message
    assert await alice.call(alice.client.secure(fresh.recipient_id, fresh.keys, KEY)) == rsp.Ok()
    assert await bob.call(bob.send(queue, b"not suspended")) == rsp.Ok()
    assert relay.service.metrics.queues == 2
    assert relay.service.metrics.messages_pending == 2


async def test_a_failed_commit_restores_the_queue_order_of_several_acks() -> None:
    store = FailingStore()
    relay = await Relay(store).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    for body in (b"a", b"b", b"c"):
        await bob.ok(bob.send(queue, body))
    await alice.ok(alice.recipient(cmd.Subscribe(3), queue))
    in_flight = [reply.response for reply in alice.pushes]
    assert all(isinstance(message, rsp.Message) for message in in_flight)
    ids = [message.message_id for message in in_flight if isinstance(message, rsp.Message)]
    store.broken = True
    acks = [alice.recipient(cmd.Acknowledge(message_id), queue)[1] for message_id in ids[:2]]
    replies = await alice.send_block(acks)
    assert [reply.response for reply in replies] == [err(InternalError.code)] * 2
    store.broken = False
    alice.pushes.clear()
    await alice.ok(alice.recipient(cmd.Subscribe(3), queue))
    again = [reply.response for reply in alice.pushes]
    assert [m.message_id for m in again if isinstance(m, rsp.Message)] == ids


async def test_a_failed_commit_restores_a_queue_changed_twice_in_one_batch() -> None:
    store = FailingStore()
    relay = await Relay(store).start()
    alice = await relay.client()
    queue = await alice.new_queue()
    store.broken = True
    secure = alice.client.secure(queue.recipient_id, queue.keys, KEY)[1]
    suspend = alice.recipient(cmd.SuspendQueue(), queue)[1]
    replies = await alice.send_block([secure, suspend])
    assert [reply.response for reply in replies] == [err(InternalError.code)] * 2
    store.broken = False
    # The relay must not believe the queue secured: the store never saw the key.
    other_key = X25519KeyPair(b"\x09" * 32).public
    assert await alice.call(alice.client.secure(queue.recipient_id, queue.keys, other_key)) == (
        rsp.Ok()
    )
