"""Group-log posts through a proxy relay: the log's relay sees the proxy, not the writer."""

from __future__ import annotations

import asyncio

import pytest

from helpers.forwarder import RecordingForwarder
from helpers.relay import RunningTestRelay
from veil.crypto import SystemRandom
from veil.relay.client.log_events import LogEntryReceived
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import AuthFailed
from veil.routing.proxied_path import ProxiedPath


async def test_a_post_through_the_proxy_reaches_readers_and_hides_the_writer(
    pair: tuple[RunningTestRelay, RunningTestRelay],
) -> None:
    proxy, destination = pair
    # Every connection to the log's relay goes through a recorder of who connects.
    recorder = RecordingForwarder("127.0.0.1", destination.port)
    port = await recorder.start()
    recorded = RelayAddress(destination.identity.fingerprint, ("127.0.0.1",), port)
    try:
        async with await RelayClient.connect(destination.address) as admin_client:
            admin = await admin_client.logs.create_log()
            writer = await admin_client.logs.add_writer(admin)
            reader = await admin_client.logs.add_reader(admin)
            await admin_client.logs.subscribe(reader)
            async with await RelayClient.connect(proxy.address) as alice:
                path = ProxiedPath(alice, recorded, SystemRandom())
                assert await path.post(writer.writer_id, writer.auth, b"via the proxy") == 0
                event = await asyncio.wait_for(anext(admin_client.logs.events()), 10)
                assert isinstance(event, LogEntryReceived) and event.body == b"via the proxy"
                await admin_client.logs.remove_writer(admin, writer.writer_id)
                with pytest.raises(AuthFailed):
                    await path.post(writer.writer_id, writer.auth, b"removed")
    finally:
        await recorder.close()
    # Only the proxy connected to the log's relay through the recorder: one shared session.
    assert len(recorder.peers) == 1
    assert proxy.service.metrics.proxy_sessions_opened == 1
    assert destination.service.metrics.forwards_received == 2
