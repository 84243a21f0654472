"""The agent's relay pool over a real TLS relay: what the runtime relies on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from helpers.relay import RunningTestRelay, start_test_relay
from veil.agent.queues import SendQueue
from veil.agent.relay_pool import RelayPool
from veil.agent.relays import Delivery, RelayUnavailable
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.server.settings import RelaySettings

#: Generous: only a broken relay takes this long, and then the test fails anyway.
_WAIT_SECONDS = 30.0


async def test_resubscribing_sends_the_unacknowledged_messages_again(
    relay: RunningTestRelay,
) -> None:
    rng = SystemRandom()
    pool = RelayPool(rng)
    try:
        queue = await pool.create_queue(str(relay.address))
        sender = X25519KeyPair.generate(rng)
        await pool.secure_own_queue(queue, sender.public)
        for body in (b"first", b"second"):
            await pool.send(SendQueue(queue.address, sender.private), body)
        arrived: asyncio.Queue[Delivery] = asyncio.Queue()
        await pool.subscribe([queue], arrived.put_nowait)
        first = [await asyncio.wait_for(arrived.get(), _WAIT_SECONDS) for _ in range(2)]
        await pool.acknowledge(queue, first[0].message_id)
        await pool.resubscribe([queue])
        again = await asyncio.wait_for(arrived.get(), _WAIT_SECONDS)
        assert again == first[1]
    finally:
        await pool.close()


async def test_sends_never_share_a_tls_session_with_subscriptions(
    relay: RunningTestRelay,
) -> None:
    rng = SystemRandom()
    pool, isolated = RelayPool(rng), RelayPool(rng, isolate_contacts=True)
    try:
        address = str(relay.address)
        queues = [await pool.create_queue(address) for _ in range(2)]
        senders = [X25519KeyPair.generate(rng) for _ in queues]
        for queue, sender in zip(queues, senders, strict=True):
            await pool.secure_own_queue(queue, sender.public)
        await pool.subscribe(queues[:1], lambda delivery: None)
        peer_queues = [
            SendQueue(queue.address, sender.private)
            for queue, sender in zip(queues, senders, strict=True)
        ]
        for peer_queue in peer_queues:
            await pool.send(peer_queue, b"to a contact")
            await isolated.send(peer_queue, b"to a contact, isolated")
        receiving = (await pool.receiving_client(address)).session
        sending = (await pool.client(address)).session
        assert receiving is not None and sending is not None
        assert receiving.session_id != sending.session_id
        isolated_sessions = {
            client.session.session_id
            for client in isolated._clients.values()
            if client.session is not None
        }
        assert len(isolated_sessions) == 2  # one per contact's queue
    finally:
        await pool.close()
        await isolated.close()


async def test_a_private_relay_gets_its_password_from_the_pool(tmp_path: Path) -> None:
    relay = await start_test_relay(tmp_path, settings=RelaySettings(password="s3cret"))
    rng = SystemRandom()
    address = str(relay.address)
    with_password, without = RelayPool(rng, passwords={address: "s3cret"}), RelayPool(rng)
    try:
        queue = await with_password.create_queue(address)
        assert queue.relay == address
        with pytest.raises(RelayUnavailable):
            await without.create_queue(address)
    finally:
        await with_password.close()
        await without.close()
        await relay.stop()
