"""Every relay command, success and error paths, through the client over real TLS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from helpers.relay import RunningTestRelay, start_test_relay
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import MessageReceived, RecipientQueue, SenderQueue, SubscriptionLost
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.errors import AuthFailed, CommandProhibited, NoMessage, QuotaExceeded
from veil.relay.server.settings import DAY_SECONDS, RelaySettings

RNG = SystemRandom()


def new_sender(queue: RecipientQueue) -> SenderQueue:
    return SenderQueue(queue.sender_id, X25519KeyPair.generate(RNG))


async def secured_queue(client: RelayClient) -> tuple[RecipientQueue, SenderQueue]:
    queue = await client.create_queue()
    sender = new_sender(queue)
    await client.secure_queue(queue, sender.auth.public)
    return queue, sender


async def next_message(client: RelayClient) -> MessageReceived:
    event = await asyncio.wait_for(anext(client.events()), 10)
    assert isinstance(event, MessageReceived)
    return event


async def test_create_gives_unrelated_ids_and_fresh_keys(client: RelayClient) -> None:
    first, second = await client.create_queue(), await client.create_queue()
    assert len({first.recipient_id, first.sender_id, second.recipient_id, second.sender_id}) == 4
    assert first.keys.auth.public != second.keys.auth.public
    assert first.delivery_key != second.delivery_key


async def test_send_subscribe_acknowledge_in_order(client: RelayClient) -> None:
    queue, sender = await secured_queue(client)
    for body in (b"one", b"two", b"three"):
        await client.send(sender, body)
    await client.subscribe(queue)
    received = []
    for _ in range(3):
        message = await next_message(client)
        received.append(message.body)
        await client.acknowledge(message)
    assert received == [b"one", b"two", b"three"]
    assert await client.get(queue) is None


async def test_message_is_redelivered_until_acknowledged(client: RelayClient) -> None:
    queue, sender = await secured_queue(client)
    await client.send(sender, b"again")
    await client.subscribe(queue)
    first = await next_message(client)
    await client.subscribe(queue)  # a new subscription starts from the unacknowledged head
    second = await next_message(client)
    assert (first.message_id, first.body) == (second.message_id, b"again")


async def test_send_to_unsecured_queue_is_refused(client: RelayClient) -> None:
    queue = await client.create_queue()
    with pytest.raises(AuthFailed):
        await client.send(new_sender(queue), b"too early")


async def test_send_with_another_key_is_refused(client: RelayClient) -> None:
    queue, _ = await secured_queue(client)
    with pytest.raises(AuthFailed):
        await client.send(new_sender(queue), b"impostor")


async def test_sender_can_secure_a_fresh_queue(client: RelayClient) -> None:
    queue = await client.create_queue()
    sender = new_sender(queue)
    await client.secure_as_sender(sender)
    await client.secure_as_sender(sender)  # repeating with the same key is harmless
    await client.send(sender, b"fast handshake")
    assert (await client.get(queue)) is not None
    with pytest.raises(AuthFailed):
        await client.secure_as_sender(new_sender(queue))


async def test_recipient_cannot_replace_the_sender_key(client: RelayClient) -> None:
    queue, sender = await secured_queue(client)
    await client.secure_queue(queue, sender.auth.public)  # same key: idempotent
    with pytest.raises(CommandProhibited):
        await client.secure_queue(queue, new_sender(queue).auth.public)


async def test_recipient_commands_need_the_recipient_key(client: RelayClient) -> None:
    queue, _ = await secured_queue(client)
    stranger = RecipientQueue(
        queue.recipient_id, queue.sender_id, (await client.create_queue()).keys, b"\0" * 32
    )
    for command in (client.subscribe, client.get, client.suspend, client.delete):
        with pytest.raises(AuthFailed):
            await command(stranger)


async def test_unknown_queue_is_auth_failed(client: RelayClient) -> None:
    queue, sender = await secured_queue(client)
    await client.delete(queue)
    with pytest.raises(AuthFailed):
        await client.subscribe(queue)
    with pytest.raises(AuthFailed):
        await client.send(sender, b"gone")


async def test_get_fetches_without_subscribing(client: RelayClient) -> None:
    queue, sender = await secured_queue(client)
    assert await client.get(queue) is None
    await client.send(sender, b"fetched")
    message = await client.get(queue)
    assert message is not None and message.body == b"fetched"
    await client.acknowledge(message)
    assert await client.get(queue) is None


async def test_acknowledging_the_wrong_message_is_no_message(client: RelayClient) -> None:
    queue, sender = await secured_queue(client)
    await client.send(sender, b"x")
    message = await client.get(queue)
    assert message is not None
    await client.acknowledge(message)
    with pytest.raises(NoMessage):
        await client.acknowledge(message)


async def test_suspend_stops_sends_but_drains(client: RelayClient) -> None:
    queue, sender = await secured_queue(client)
    await client.send(sender, b"before")
    await client.suspend(queue)
    await client.suspend(queue)  # idempotent
    with pytest.raises(AuthFailed):
        await client.send(sender, b"after")
    message = await client.get(queue)
    assert message is not None and message.body == b"before"


async def test_delete_removes_queue_and_messages(client: RelayClient) -> None:
    queue, sender = await secured_queue(client)
    await client.send(sender, b"doomed")
    await client.delete(queue)
    with pytest.raises(AuthFailed):
        await client.get(queue)


async def test_ping(client: RelayClient) -> None:
    await client.ping()


async def test_second_subscriber_takes_over(relay: RunningTestRelay) -> None:
    async with (
        await RelayClient.connect(relay.address) as first,
        await RelayClient.connect(relay.address) as second,
    ):
        queue, sender = await secured_queue(first)
        await first.subscribe(queue)
        await second.subscribe(queue)
        ended = await asyncio.wait_for(anext(first.events()), 10)
        assert isinstance(ended, SubscriptionLost) and ended.queue == queue
        assert first.subscriptions == ()
        await first.send(sender, b"for the new subscriber")
        message = await next_message(second)
        assert message.body == b"for the new subscriber"


async def test_quota_is_recoverable(tmp_path: Path) -> None:
    relay = await start_test_relay(tmp_path, settings=RelaySettings(queue_quota=3))
    try:
        async with await RelayClient.connect(relay.address) as client:
            queue, sender = await secured_queue(client)
            for number in range(3):
                await client.send(sender, bytes([number]))
            with pytest.raises(QuotaExceeded):
                await client.send(sender, b"one too many")
            message = await client.get(queue)
            assert message is not None
            await client.acknowledge(message)
            await client.send(sender, b"room again")
    finally:
        await relay.stop()


async def test_messages_expire_after_retention(tmp_path: Path) -> None:
    relay = await start_test_relay(tmp_path, settings=RelaySettings(retention_seconds=DAY_SECONDS))
    try:
        async with await RelayClient.connect(relay.address) as client:
            queue, sender = await secured_queue(client)
            await client.send(sender, b"old")
            relay.clock.now += 3 * 3600
            await client.send(sender, b"recent")
            relay.clock.now += DAY_SECONDS
            await relay.service.expire()
            message = await client.get(queue)
            assert message is not None and message.body == b"recent"
            assert relay.service.metrics.messages_expired == 1
    finally:
        await relay.stop()


async def test_password_protects_queue_creation(tmp_path: Path) -> None:
    relay = await start_test_relay(tmp_path, settings=RelaySettings(password="s3cret"))
    try:
        async with await RelayClient.connect(relay.address) as client:
            for wrong in (None, "guess"):
                with pytest.raises(AuthFailed):
                    await client.create_queue(password=wrong)
            queue = await client.create_queue(password="s3cret")
            sender = new_sender(queue)
            await client.secure_queue(queue, sender.auth.public)
            await client.send(sender, b"senders need no password")
    finally:
        await relay.stop()
