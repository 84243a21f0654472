"""A dishonest or unwilling proxy, with in-process relays on real TLS sockets."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.relay import LOOPBACK, RunningTestRelay, make_identity, start_test_relay
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import CommandProhibited
from veil.relay.protocol.transmission import encode_transmission
from veil.relay.server.settings import RelaySettings
from veil.routing import proxy_sessions
from veil.routing.codec import encode_routing_command
from veil.routing.errors import (
    DestinationKeySubstituted,
    DestinationSessionKeyForged,
    ProxyingDisabled,
)
from veil.routing.forward_crypto import ProxyForwarder
from veil.routing.proxied_path import ProxiedPath
from veil.routing.proxied_sender import Forward, proxy_request, read_proxy_key
from veil.routing.proxy import RelayProxy

INNER_ID = bytes(range(1, 25))
OUTER_ID = bytes(range(2, 26))


async def start(tmp_path: Path, name: str, *, proxy: bool = True) -> RunningTestRelay:
    make_identity(tmp_path / name, seed=name.encode())
    return await start_test_relay(
        tmp_path / name, settings=RelaySettings(proxy=proxy, proxy_allow=LOOPBACK)
    )


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[RunningTestRelay, RunningTestRelay]]:
    (tmp_path / "proxy").mkdir()
    (tmp_path / "destination").mkdir()
    proxy = await start(tmp_path, "proxy")
    destination = await start(tmp_path, "destination")
    yield proxy, destination
    await proxy.stop()
    await destination.stop()


def substitute(monkeypatch: pytest.MonkeyPatch, field: str, value: bytes) -> None:
    """Make every proxy answer PKEY with ``field`` set to ``value`` (a man in the middle)."""
    real_connect = RelayProxy._connect

    async def dishonest(self: RelayProxy, address: object) -> object:
        destination = await real_connect(self, address)  # type: ignore[arg-type]
        proof = destination.proof
        if field == "identity_key":
            destination.proof = dataclasses.replace(proof, identity_key=value)
        else:
            destination.proof = dataclasses.replace(proof, session_key=value)
        return destination

    monkeypatch.setattr(RelayProxy, "_connect", dishonest)


@pytest.mark.parametrize(
    ("field", "error"),
    [("identity_key", DestinationKeySubstituted), ("session_key", DestinationSessionKeyForged)],
)
async def test_a_substituted_destination_key_fails_the_send(
    pair: tuple[RunningTestRelay, RunningTestRelay],
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    error: type[Exception],
) -> None:
    proxy, destination = pair
    substitute(monkeypatch, field, X25519KeyPair.generate(SystemRandom()).public)
    async with await RelayClient.connect(proxy.address) as alice:
        path = ProxiedPath(alice, destination.address, SystemRandom())
        with pytest.raises(error):
            await path.ping()
    assert destination.service.metrics.forwards_received == 0


async def test_a_relay_with_proxying_off_says_so(tmp_path: Path) -> None:
    (tmp_path / "closed").mkdir()
    (tmp_path / "destination").mkdir()
    closed = await start(tmp_path, "closed", proxy=False)
    destination = await start(tmp_path, "destination")
    try:
        async with await RelayClient.connect(closed.address) as alice:
            with pytest.raises(ProxyingDisabled):
                await ProxiedPath(alice, destination.address, SystemRandom()).ping()
    finally:
        await closed.stop()
        await destination.stop()


async def test_recipient_commands_are_not_carried_through_a_proxy(
    pair: tuple[RunningTestRelay, RunningTestRelay],
) -> None:
    proxy, destination = pair
    rng = SystemRandom()
    async with await RelayClient.connect(proxy.address) as alice:
        body = await alice.exchange(lambda: proxy_request(destination.address, rng))
        proved = read_proxy_key(body, destination.address)
        # A GET (a recipient command), sealed like any forwarded command.
        get = encode_transmission(b"", INNER_ID, bytes(24), bytes((cmd.Tag.GET,)))
        sealed, pending = proved.seal_command(get, rng)
        pfwd = encode_routing_command(sealed)
        transmission = encode_transmission(b"", OUTER_ID, proved.proxy_session_id, pfwd)
        forward = Forward(OUTER_ID, transmission, INNER_ID, pending)
        reply = await alice.exchange(lambda: (OUTER_ID, transmission))
    assert forward.read_reply(reply) == rsp.ErrorResponse(CommandProhibited.code)


async def test_the_proxy_moves_to_a_new_destination_session_before_the_last_forward(
    pair: tuple[RunningTestRelay, RunningTestRelay], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A destination session opens a bounded number of forwards (it remembers every
    # ephemeral key, so none can be replayed); the proxy retires a session that carried
    # its last one, and the client's next forward gets 481 and a fresh session.
    monkeypatch.setattr(
        proxy_sessions, "ProxyForwarder", functools.partial(ProxyForwarder, max_forwards=2)
    )
    proxy, destination = pair
    async with await RelayClient.connect(proxy.address) as alice:
        path = ProxiedPath(alice, destination.address, SystemRandom())
        for _ in range(5):
            await path.ping()
    assert proxy.service.metrics.proxy_sessions_opened == 3
    assert destination.service.metrics.forwards_received == 5
    for _ in range(500):  # the retired sessions close once their forwards were answered
        if destination.server.metrics.connections_open == 1:
            break
        await asyncio.sleep(0.01)
    assert destination.server.metrics.connections_open == 1


async def test_concurrent_first_sends_share_one_proxy_request(
    pair: tuple[RunningTestRelay, RunningTestRelay], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, destination = pair
    requests = 0

    def counting_request(*args: object) -> tuple[bytes, bytes]:
        nonlocal requests
        requests += 1
        return proxy_request(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("veil.routing.proxied_path.proxy_request", counting_request)
    async with await RelayClient.connect(proxy.address) as alice:
        path = ProxiedPath(alice, destination.address, SystemRandom())
        await asyncio.gather(*(path.ping() for _ in range(32)))
    assert requests == 1
    assert destination.service.metrics.forwards_received == 32
