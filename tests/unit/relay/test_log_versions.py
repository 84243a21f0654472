"""Group-log commands exist only on sessions that agreed relay protocol version 4."""

from __future__ import annotations

import asyncio

import pytest

from helpers.relay_harness import IDENTITY, HarnessClient, Relay
from veil.crypto import DeterministicRandom, X25519KeyPair
from veil.relay.client.log_wire import log_transmission, new_correlation_id
from veil.relay.client.session import ClientSession, RawResponse
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol import log_responses as lr
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import UnknownCommand
from veil.relay.protocol.queue_crypto import derive_auth_key
from veil.wire import VersionRange


@pytest.fixture
async def relay() -> Relay:
    return await Relay().start()


async def connect(relay: Relay, versions: VersionRange) -> HarnessClient:
    client = HarnessClient(relay.service, DeterministicRandom(b"versions %r" % (versions,)))
    client.session = relay.service.open_session(client.received.append)
    client.client = ClientSession.accept_hello(
        client.session.hello, IDENTITY.public, client.rng, versions=versions
    )
    await client.session.handle_block(client.client.client_hello)
    return client


async def create_log(client: HarnessClient) -> rsp.Response | lr.LogResponse:
    """Send ``LNEW`` as a client would that ignored its agreed version; return the answer."""
    admin = X25519KeyPair.generate(client.rng)
    correlation_id = new_correlation_id(client.rng)
    mac_key = derive_auth_key(admin, client.client.relay_session_key)
    command = lc.CreateLog(admin.public)
    transmission = log_transmission(client.client, command, b"", mac_key, correlation_id)
    replies = await client.send_block([transmission])
    async with asyncio.timeout(10):
        while not replies:  # a log command that changes the store commits in its own loop
            await asyncio.sleep(0.01)
            replies = client.take_replies()
    [answer] = [reply.response for reply in replies if reply.correlation_id == correlation_id]
    if isinstance(answer, RawResponse):
        return lr.decode_log_response(answer.body)
    return answer


@pytest.mark.parametrize("newest", [1, 2, 3])
async def test_log_commands_are_unknown_below_version_4(relay: Relay, newest: int) -> None:
    old = await connect(relay, VersionRange(1, newest))
    assert old.client.version == newest
    assert await create_log(old) == rsp.ErrorResponse(UnknownCommand.code)
    assert relay.service.metrics.errors["UnknownCommand"] == 1
    assert await old.call(old.client.ping()) == rsp.Pong()  # the connection goes on


async def test_log_commands_are_served_at_version_4(relay: Relay) -> None:
    current = await connect(relay, VersionRange(1, lc.LOG_VERSION))
    assert isinstance(await create_log(current), lr.LogCreated)
