"""Connecting: identity pinning, several hosts, reconnection and restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from helpers.forwarder import RecordingForwarder
from helpers.relay import RunningTestRelay, start_test_relay
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import (
    ConnectionRestored,
    MessageReceived,
    SenderQueue,
    SubscriptionLost,
)
from veil.relay.client.relay_client import ReconnectPolicy, RelayClient
from veil.relay.protocol.address import RelayAddress, encode_fingerprint
from veil.relay.protocol.errors import ConnectionLost, IdentityMismatch
from veil.relay.server.store.sqlite import SqliteStore

FAST_RECONNECT = ReconnectPolicy(first_delay=0.02, maximum_delay=0.2)


async def test_fingerprint_mismatch_aborts_before_any_block(relay: RunningTestRelay) -> None:
    wrong = RelayAddress(encode_fingerprint(bytes(32)), ("127.0.0.1",), relay.port)
    with pytest.raises(IdentityMismatch):
        await RelayClient.connect(wrong)
    await asyncio.sleep(0.05)  # let the relay notice the closed connection
    assert relay.server.metrics.handshakes_completed == 1
    assert relay.server.metrics.blocks_received == 0
    assert relay.server.metrics.connections_open == 0


async def test_unreachable_host_is_skipped(relay: RunningTestRelay) -> None:
    address = RelayAddress(relay.identity.fingerprint, ("127.0.0.2", "127.0.0.1"), relay.port)
    # 127.0.0.2 refuses (nothing listens there), so the client moves on to 127.0.0.1.
    async with await RelayClient.connect(address) as client:
        await client.ping()


async def test_no_host_answers(relay: RunningTestRelay) -> None:
    address = RelayAddress(relay.identity.fingerprint, ("127.0.0.2",), relay.port)
    with pytest.raises(ConnectionLost, match=r"cannot reach 127\.0\.0\.2"):
        await RelayClient.connect(address)


async def test_without_reconnect_commands_fail_fast(relay: RunningTestRelay) -> None:
    client = await RelayClient.connect(relay.address, reconnect=None)
    await relay.stop()
    with pytest.raises(ConnectionLost):
        await client.ping()
    await client.close()


async def test_restart_restores_queues_and_messages_and_client_resubscribes(
    tmp_path: Path,
) -> None:
    store_path = tmp_path / "relay.db"
    relay = await start_test_relay(tmp_path, store=SqliteStore(store_path))
    client = await RelayClient.connect(relay.address, reconnect=FAST_RECONNECT)
    try:
        queue = await client.create_queue()
        sender = SenderQueue(queue.sender_id, X25519KeyPair.generate(SystemRandom()))
        await client.secure_queue(queue, sender.auth.public)
        await client.subscribe(queue)
        await relay.stop()
        relay = await start_test_relay(tmp_path, store=SqliteStore(store_path), port=relay.port)
        events = client.events()
        restored = await asyncio.wait_for(anext(events), 10)
        assert restored == ConnectionRestored(resubscribing=1)
        await client.send(sender, b"after restart")
        delivered = await asyncio.wait_for(anext(events), 10)
        assert isinstance(delivered, MessageReceived)
        await relay.stop()  # not yet acknowledged: it must survive this restart too
        relay = await start_test_relay(tmp_path, store=SqliteStore(store_path), port=relay.port)
        assert isinstance(await asyncio.wait_for(anext(events), 10), ConnectionRestored)
        again = await asyncio.wait_for(anext(events), 10)
        assert isinstance(again, MessageReceived)
        assert (again.message_id, again.body) == (delivered.message_id, b"after restart")
        await client.acknowledge(again)
        assert await client.get(queue) is None
    finally:
        await client.close()
        await relay.stop()


async def test_commands_wait_for_reconnection(tmp_path: Path) -> None:
    relay = await start_test_relay(tmp_path)
    client = await RelayClient.connect(relay.address, reconnect=FAST_RECONNECT)
    try:
        port = relay.port
        await relay.stop()
        await asyncio.sleep(0.05)
        assert not client.connected
        relay = await start_test_relay(tmp_path, port=port)
        await asyncio.wait_for(client.ping(), 10)
        assert client.connected
    finally:
        await client.close()
        await relay.stop()


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    policy = ReconnectPolicy(first_delay=1.0, maximum_delay=8.0, factor=2.0, jitter=0.5)
    rng = SystemRandom()
    for attempt, base in enumerate([1.0, 2.0, 4.0, 8.0, 8.0, 8.0]):
        delay = policy.delay(attempt, rng)
        assert base * 0.5 <= delay <= base
    assert 4.0 <= policy.delay(100_000, rng) <= 8.0  # a long outage stays at the cap


async def test_closing_fails_commands_waiting_for_reconnection(tmp_path: Path) -> None:
    relay = await start_test_relay(tmp_path)
    client = await RelayClient.connect(relay.address, reconnect=FAST_RECONNECT)
    await relay.stop()
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(client.ping())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # it waits for the relay to come back
    await client.close()
    with pytest.raises(ConnectionLost):
        await waiting


async def test_resubscription_batches_many_queues_per_block(tmp_path: Path) -> None:
    relay = await start_test_relay(tmp_path)
    client = await RelayClient.connect(relay.address, reconnect=FAST_RECONNECT)
    try:
        queues = await asyncio.gather(*(client.create_queue() for _ in range(300)))
        assert await client.subscribe_all(queues) == []
        await relay.stop()
        relay = await start_test_relay(tmp_path, store=relay.store, port=relay.port)
        restored = await asyncio.wait_for(anext(client.events()), 10)
        assert restored == ConnectionRestored(resubscribing=300)
        await client.ping()  # answered after the SUBs, so they were all received
        # 300 SUBs of 85 bytes each fit in 2 blocks, after the client hello.
        assert relay.server.metrics.blocks_received <= 1 + 2 + 1
        assert len(client.subscriptions) == 300
    finally:
        await client.close()
        await relay.stop()


async def test_deleted_queue_is_reported_after_reconnection(tmp_path: Path) -> None:
    relay = await start_test_relay(tmp_path)
    client = await RelayClient.connect(relay.address, reconnect=FAST_RECONNECT)
    other = await RelayClient.connect(relay.address, reconnect=None)
    try:
        kept, deleted = await client.create_queue(), await client.create_queue()
        await client.subscribe_all([kept, deleted])
        await relay.stop()
        relay = await start_test_relay(tmp_path, store=relay.store, port=relay.port)
        await other.close()
        other = await RelayClient.connect(relay.address, reconnect=None)
        await other.delete(deleted)  # the recipient's keys work from any connection
        events = client.events()
        assert await asyncio.wait_for(anext(events), 10) == ConnectionRestored(resubscribing=2)
        assert await asyncio.wait_for(anext(events), 10) == SubscriptionLost(deleted)
        assert client.subscriptions == (kept,)
    finally:
        await client.close()
        await other.close()
        await relay.stop()


async def test_keepalive_replaces_a_silently_dead_connection(relay: RunningTestRelay) -> None:
    forwarder = RecordingForwarder("127.0.0.1", relay.port)
    port = await forwarder.start()
    address = RelayAddress(relay.identity.fingerprint, ("127.0.0.1",), port)
    client = await RelayClient.connect(address, reconnect=FAST_RECONNECT, keepalive=0.1)
    try:
        queue = await client.create_queue()
        await client.subscribe(queue)
        forwarder.freeze()  # the old connection now swallows everything, without closing
        restored = await asyncio.wait_for(anext(client.events()), 10)
        assert restored == ConnectionRestored(resubscribing=1)
        await client.ping()
        assert len(forwarder.client_to_relay) == 2  # it really made a new connection
    finally:
        await client.close()
        await forwarder.close()
