"""Review findings on the relay service: failed commits of every kind, queue creation limit."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import pytest

from helpers.relay_harness import Relay
from veil.crypto import aead_encrypt
from veil.relay.client.session import open_delivery
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import (
    ErrorCode,
    InternalError,
    NoMessage,
    TooManyQueues,
    UnexpectedResponse,
)
from veil.relay.protocol.queue_crypto import open_message
from veil.relay.server.settings import RelaySettings
from veil.relay.server.store.base import StoreChange
from veil.relay.server.store.memory import MemoryStore

INTERNAL = rsp.ErrorResponse(InternalError.code)


class CrashingStore(MemoryStore):
    """A store whose commits raise an unwrapped driver error while ``broken`` is set."""

    broken = False

    async def apply(self, changes: Sequence[StoreChange]) -> None:
        if self.broken:
            raise sqlite3.OperationalError("database disk image is malformed")
        await super().apply(changes)


async def test_an_unexpected_commit_error_rolls_back_like_a_store_failure() -> None:
    store = CrashingStore()
    relay = await Relay(store, settings=RelaySettings(queue_quota=1)).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    store.broken = True
    assert await bob.call(bob.send(queue, b"lost")) == INTERNAL
    store.broken = False
    # Before the fix the failed SEND stayed "in flight" and held the only quota place.
    assert await bob.call(bob.send(queue, b"kept")) == rsp.Ok()
    message = await alice.ok(alice.recipient(cmd.GetMessage(), queue))
    assert isinstance(message, rsp.Message)
    store.broken = True
    assert await alice.call(alice.recipient(cmd.Acknowledge(message.message_id), queue)) == (
        INTERNAL
    )
    store.broken = False
    # ... and the ACK's message was lost from memory although the store still held it.
    assert await alice.call(alice.recipient(cmd.GetMessage(), queue)) == message
    assert relay.service.metrics.messages_pending == 1


async def test_a_failed_ack_leaves_the_early_pushed_message_in_flight() -> None:
    # An ACK pushes the next message before its own commit (relay.md 5, Delivery): that
    # message was durable already, so a failed commit does not take it back; both stay
    # in flight and both can be acknowledged once the store works again.
    store = CrashingStore()
    relay = await Relay(store).start()
    alice, bob = await relay.client(), await relay.client()
    queue = await alice.secured_queue()
    for body in (b"first", b"second"):
        await bob.ok(bob.send(queue, body))
    await alice.ok(alice.recipient(cmd.Subscribe(), queue))
    [first] = [reply.response for reply in alice.pushes]
    assert isinstance(first, rsp.Message)
    store.broken = True
    replies = await alice.send_block([alice.recipient(cmd.Acknowledge(first.message_id), queue)[1]])
    responses = [reply.response for reply in replies]
    assert INTERNAL in responses
    [second] = [response for response in responses if isinstance(response, rsp.Message)]
    assert open_delivery(queue.delivery_key, second).body == b"second"
    store.broken = False
    for message in (second, first):
        assert await alice.call(alice.recipient(cmd.Acknowledge(message.message_id), queue)) == (
            rsp.Ok()
        )
    assert await alice.call(alice.recipient(cmd.GetMessage(), queue)) == rsp.ErrorResponse(
        NoMessage.code
    )
    assert relay.service.metrics.messages_pending == 0


async def test_one_connection_creates_at_most_its_share_of_queues() -> None:
    store = CrashingStore()
    relay = await Relay(store, settings=RelaySettings(max_queues_per_connection=2)).start()
    alice, bob = await relay.client(), await relay.client()
    store.broken = True
    with pytest.raises(InternalError):
        await alice.new_queue()  # a NEW that did not commit does not count
    store.broken = False
    await alice.new_queue()
    await alice.new_queue()
    with pytest.raises(TooManyQueues):
        await alice.new_queue()
    await bob.new_queue()  # the limit is per connection
    assert relay.service.metrics.queues == 3
    assert TooManyQueues.code == 419
    assert ErrorCode(TooManyQueues.code) is ErrorCode.TOO_MANY_QUEUES


@pytest.mark.parametrize("frame", [b"", b"\x00" * 8])
def test_an_authentic_frame_too_short_for_its_header_is_a_relay_error(frame: bytes) -> None:
    key, message_id = bytes(range(32)), bytes(range(24))
    sealed = aead_encrypt(key, message_id[:12], frame, message_id)
    with pytest.raises(UnexpectedResponse):
        open_message(key, message_id, sealed)


@pytest.mark.parametrize(
    "options",
    [{"max_queues_per_connection": 0}, {"max_connections": 0}, {"idle_timeout_seconds": 0}],
)
def test_connection_limits_refuse_nonsense(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RelaySettings(**options)  # type: ignore[arg-type]
