"""Review findings on real sockets: connection limits, undecryptable pushes, reconnection."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from helpers.relay import RunningTestRelay, start_test_relay
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.connection import ClientConnection
from veil.relay.client.events import ConnectionRestored, MessageDiscarded, SenderQueue
from veil.relay.client.link import RelayLink
from veil.relay.client.relay_client import ReconnectPolicy, RelayClient
from veil.relay.protocol.errors import ConnectionLost
from veil.relay.server.settings import RelaySettings

FAST_RECONNECT = ReconnectPolicy(first_delay=0.02, maximum_delay=0.2)


async def test_connections_beyond_the_maximum_are_refused(tmp_path: Path) -> None:
    relay = await start_test_relay(tmp_path, settings=RelaySettings(max_connections=1))
    try:
        async with await RelayClient.connect(relay.address, reconnect=None) as first:
            with pytest.raises(ConnectionLost):
                await RelayClient.connect(relay.address, reconnect=None, connect_timeout=5)
            await first.ping()  # the one admitted is served as before
        assert relay.server.metrics.connections_refused == 1
    finally:
        await relay.stop()


async def test_idle_connections_without_subscriptions_are_closed(
    relay: RunningTestRelay,
) -> None:
    idle = await RelayClient.connect(relay.address, reconnect=None, keepalive=None)
    subscriber = await RelayClient.connect(relay.address, reconnect=None, keepalive=None)
    try:
        await subscriber.subscribe(await subscriber.create_queue())
        now = asyncio.get_running_loop().time()
        assert relay.server.close_idle(now) == 0  # both just spoke
        later = now + relay.settings.idle_timeout_seconds + 1
        assert relay.server.close_idle(later) == 1
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(idle.ping(), 10)
        await subscriber.ping()
        assert relay.server.metrics.connections_idle_closed == 1
    finally:
        await idle.close()
        await subscriber.close()


async def test_an_undecryptable_push_is_acknowledged_and_reported(
    relay: RunningTestRelay,
) -> None:
    async with await RelayClient.connect(relay.address, delivery_window=1) as client:
        queue = await client.create_queue()
        sender = SenderQueue(queue.sender_id, X25519KeyPair.generate(SystemRandom()))
        await client.secure_queue(queue, sender.auth.public)
        await client.send(sender, b"never readable")
        await client.send(sender, b"nor this one")
        # The client's delivery key is wrong, so no message can be opened.
        await client.subscribe(dataclasses.replace(queue, delivery_key=bytes(32)))
        events = client.events()
        discarded = await asyncio.wait_for(anext(events), 10)
        assert isinstance(discarded, MessageDiscarded)
        assert discarded.queue.recipient_id == queue.recipient_id
        # Acknowledged, so the window of one moved on to the next message.
        assert isinstance(await asyncio.wait_for(anext(events), 10), MessageDiscarded)
        assert await client.get(queue) is None  # both were acknowledged: the queue is drained


async def test_reconnection_survives_an_unexpected_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = await start_test_relay(tmp_path)
    client = await RelayClient.connect(relay.address, reconnect=FAST_RECONNECT)
    failures = [RuntimeError("a bug in the connect path")]
    real_open = RelayLink._open

    async def flaky_open(self: RelayLink) -> ClientConnection:
        if failures:
            raise failures.pop()
        return await real_open(self)

    monkeypatch.setattr(RelayLink, "_open", flaky_open)
    try:
        await relay.stop()
        relay = await start_test_relay(tmp_path, port=relay.port)
        restored = await asyncio.wait_for(anext(client.events()), 10)
        assert restored == ConnectionRestored(resubscribing=0)
        assert failures == []
        await client.ping()
    finally:
        await client.close()
        await relay.stop()
