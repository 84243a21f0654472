"""What an on-path observer sees: after the handshake, only records of one size."""

from __future__ import annotations

import asyncio

from helpers.forwarder import BLOCK_RECORD_LENGTH, RecordingForwarder, records_after_handshake
from helpers.relay import RunningTestRelay
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import MessageReceived, SenderQueue
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.address import RelayAddress


async def test_every_record_after_the_handshake_is_one_block(relay: RunningTestRelay) -> None:
    forwarder = RecordingForwarder("127.0.0.1", relay.port)
    port = await forwarder.start()
    address = RelayAddress(relay.identity.fingerprint, ("127.0.0.1",), port)
    try:
        async with await RelayClient.connect(address) as client:
            queue = await client.create_queue()
            sender = SenderQueue(queue.sender_id, X25519KeyPair.generate(SystemRandom()))
            await client.secure_queue(queue, sender.auth.public)
            await client.subscribe(queue)
            events = client.events()
            for body in (b"", b"x", b"y" * 1000, b"z" * 16_000):
                await client.send(sender, body)
                message = await asyncio.wait_for(anext(events), 10)
                assert isinstance(message, MessageReceived) and message.body == body
                await client.acknowledge(message)
            await asyncio.gather(*(client.ping() for _ in range(300)))  # several per block
            assert await client.get(queue) is None
    finally:
        await forwarder.close()
    [upward], [downward] = forwarder.client_to_relay, forwarder.relay_to_client
    for stream in (upward, downward):
        lengths = records_after_handshake(stream)
        assert len(lengths) >= 10
        assert set(lengths) == {BLOCK_RECORD_LENGTH}
