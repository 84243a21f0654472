"""Private routing between three ``veil-relay`` processes on loopback.

Alice sends to Bob's queue on the destination relay through a proxy relay, with
a recording forwarder on each side of the proxy::

    Alice -> forwarder A -> proxy relay -> forwarder B -> destination relay <- Bob

Forwarder B stands where the destination's network stack is: the peers it
accepts are exactly the connections the destination would record (the relay
itself logs no client addresses, by design; see ``docs/protocol/routing.md``).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.forwarder import APPLICATION_DATA, TLS_HEADER_SIZE, RecordingForwarder
from helpers.relay_process import RelayProcess
from veil.agent.payloads import QueueAddress
from veil.agent.queues import SendQueue
from veil.agent.relay_pool import RelayPool
from veil.agent.relays import RelayUnavailable
from veil.agent.routing_port import RoutedRelays
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import MessageReceived, RecipientQueue
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.address import RelayAddress
from veil.routing.policy import RelayEntry, RoutingMode, RoutingPolicy
from veil.routing.proxied_path import ProxiedPath

pytestmark = pytest.mark.slow

WINDOW = 32
MESSAGES = 20


@pytest.fixture
async def relays(tmp_path: Path) -> AsyncIterator[tuple[RelayProcess, RelayProcess]]:
    proxy = RelayProcess.init(tmp_path / "proxy")
    destination = RelayProcess.init(tmp_path / "destination")
    await asyncio.gather(proxy.start(), destination.start())
    yield proxy, destination
    for relay in (proxy, destination):
        if relay.process is not None and relay.process.returncode is None:
            await relay.stop()


def through(forwarder_port: int, address: RelayAddress) -> RelayAddress:
    """The same relay (same pinned identity) reached via a forwarder's port."""
    return replace(address, hosts=("127.0.0.1",), port=forwarder_port)


async def bob_queue(destination: RelayAddress) -> tuple[RelayClient, RecipientQueue, X25519KeyPair]:
    bob = await RelayClient.connect(destination)
    queue = await bob.create_queue()
    sender_key = X25519KeyPair.generate(SystemRandom())
    await bob.secure_queue(queue, sender_key.public)
    await bob.subscribe(queue)
    return bob, queue, sender_key


async def receive(bob: RelayClient, count: int) -> list[bytes]:
    bodies: list[bytes] = []
    events = bob.events()
    while len(bodies) < count:
        event = await asyncio.wait_for(anext(events), 10)
        assert isinstance(event, MessageReceived)
        bodies.append(event.body)
        await bob.acknowledge(event)
    return bodies


def application_data(forwarder: RecordingForwarder) -> bytes:
    """Every TLS application-data record's payload seen by ``forwarder``, both directions.

    Handshake records are left out: every TLS 1.3 client hello anywhere repeats the
    same boilerplate (cipher suites, ALPN ``veil/1``), which identifies nothing.
    """
    payloads = []
    for stream in (*forwarder.client_to_relay, *forwarder.relay_to_client):
        data = bytes(stream.raw)
        offset = 0
        while offset + TLS_HEADER_SIZE <= len(data):
            length = int.from_bytes(data[offset + 3 : offset + 5], "big")
            if data[offset] == APPLICATION_DATA:
                payloads.append(data[offset + TLS_HEADER_SIZE : offset + TLS_HEADER_SIZE + length])
            offset += TLS_HEADER_SIZE + length
    return b"".join(payloads)


def windows(data: bytes) -> set[bytes]:
    return {data[i : i + WINDOW] for i in range(len(data) - WINDOW + 1)}


def queue_id_spellings(queue: RecipientQueue) -> list[bytes]:
    spellings = []
    for queue_id in (queue.recipient_id, queue.sender_id):
        spellings += [queue_id, queue_id.hex().encode(), base64.b64encode(queue_id)]
        spellings.append(base64.urlsafe_b64encode(queue_id).rstrip(b"="))
    return spellings


async def test_proxy_hides_alice_from_the_destination(
    relays: tuple[RelayProcess, RelayProcess],
) -> None:
    proxy, destination = relays
    inbound = RecordingForwarder("127.0.0.1", proxy.address.port)
    outbound = RecordingForwarder("127.0.0.1", destination.address.port)
    inbound_port, outbound_port = await inbound.start(), await outbound.start()
    bob, queue, sender_key = await bob_queue(destination.address)
    alice = await RelayClient.connect(through(inbound_port, proxy.address))
    try:
        path = ProxiedPath(alice, through(outbound_port, destination.address), SystemRandom())
        bodies = [f"message {n}".encode() * 50 for n in range(MESSAGES)]
        for body in bodies:
            await path.send(queue.sender_id, sender_key, body)
        assert await receive(bob, MESSAGES) == bodies

        alice_ports = {port for _, port in inbound.peers}
        assert len(outbound.peers) == 1, "one shared proxy session, nothing else"
        assert not alice_ports & {port for _, port in outbound.peers}

        inbound_bytes = application_data(inbound)
        outbound_bytes = application_data(outbound)
        assert len(inbound_bytes) > MESSAGES * 16_384
        assert not windows(inbound_bytes) & windows(outbound_bytes)
    finally:
        await alice.close()
        await bob.close()
        await inbound.close()
        await outbound.close()
    await proxy.stop()
    evidence = [path.read_bytes() for path in proxy.data_dir.rglob("*") if path.is_file()]
    evidence.append(proxy.log_file.read_bytes())
    for spelling in queue_id_spellings(queue):
        assert not any(spelling in blob for blob in evidence)


def routed(proxy: RelayProcess, pool: RelayPool) -> RoutedRelays:
    policy = RoutingPolicy(
        (RelayEntry(proxy.address, "proxy operator", own=False),), RoutingMode.ALWAYS
    )
    return RoutedRelays(pool, policy, SystemRandom())


async def test_sends_retry_cleanly_while_a_relay_is_down(
    relays: tuple[RelayProcess, RelayProcess],
) -> None:
    proxy, destination = relays
    bob, queue, sender_key = await bob_queue(destination.address)
    await bob.close()  # Bob collects later, on a new connection
    # Generous: a stopped relay refuses at once; a busy machine may take seconds to answer.
    pool = RelayPool(SystemRandom(), connect_timeout=10.0)
    port = routed(proxy, pool)
    send_queue = SendQueue(
        QueueAddress(str(destination.address), queue.sender_id), sender_key.private
    )
    sent: list[bytes] = []
    try:
        await port.send(send_queue, b"before")
        sent.append(b"before")

        await destination.stop()
        with pytest.raises(RelayUnavailable, match="DestinationUnreachable"):
            await port.send(send_queue, b"while the destination is down")
        await destination.start()
        await port.send(send_queue, b"while the destination is down")
        sent.append(b"while the destination is down")

        await proxy.stop()
        with pytest.raises(RelayUnavailable, match="never sent directly"):
            await port.send(send_queue, b"while the proxy is down")
        assert port.routes[str(destination.address)] == str(proxy.address)
        await proxy.start()
        await port.send(send_queue, b"while the proxy is down")
        sent.append(b"while the proxy is down")
    finally:
        await port.close()
    bob = await RelayClient.connect(destination.address)
    try:
        await bob.subscribe(queue)
        assert await receive(bob, len(sent)) == sent
        assert await bob.get(queue) is None
    finally:
        await bob.close()
