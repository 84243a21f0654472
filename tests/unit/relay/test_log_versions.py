"""Group-log commands exist only on sessions that agreed relay protocol version 4."""

from __future__ import annotations

import pytest

from helpers.relay_harness import IDENTITY, HarnessClient, Relay
from veil.crypto import DeterministicRandom, X25519KeyPair
from veil.relay.client.session import ClientSession
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol import log_responses as lr
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import UnknownCommand
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
    return await client.log_call(lc.CreateLog(admin.public), admin)


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
