"""Relay connections through a real SOCKS5 server: Debian's ``dante-server``.

The fixture starts ``danted`` on a free loopback port with a generated config
whose outgoing address is 127.0.0.2, while the client itself connects from
127.0.0.1. A TCP echo server then tells from the peer address alone whether a
connection came through the SOCKS server or straight from the client.

CI installs the server with ``apt-get install -y dante-server``; without it these
tests skip and say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers.dante import (
    CLIENT_HOST,
    SOCKS_EXTERNAL_HOST,
    danted,
    free_port,
    requires_danted,
)
from helpers.forwarder import RecordingForwarder
from helpers.relay import start_test_relay
from veil.crypto import DeterministicRandom
from veil.relay.client.relay_client import RelayClient
from veil.routing.errors import SocksConnectFailed
from veil.routing.policy import SocksSettings
from veil.routing.socks import SocksConnector

pytestmark = requires_danted
__all__ = ["danted"]  # a fixture: imported for pytest to find


@dataclass
class EchoServer:
    """A loopback TCP echo server that records each connection's peer address."""

    port: int = 0
    peers: list[tuple[str, int]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.append(writer.get_extra_info("peername"))
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                writer.write(data)
                await writer.drain()
        writer.close()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    echo = EchoServer()
    server = await asyncio.start_server(echo.handle, CLIENT_HOST, 0)
    echo.port = server.sockets[0].getsockname()[1]
    async with server:
        yield echo


async def round_trip(connector: SocksConnector, host: str, port: int, payload: bytes) -> bytes:
    reader, writer = await connector.open_connection(host, port)
    try:
        assert writer.get_extra_info("peername")[1] == connector.settings.port
        writer.write(payload)
        await writer.drain()
        return await reader.readexactly(len(payload))
    finally:
        writer.close()
        await writer.wait_closed()


async def test_client_reaches_the_server_only_through_socks(
    danted: SocksSettings, echo: EchoServer
) -> None:
    connector = SocksConnector(danted, DeterministicRandom(b"socks"))
    assert await round_trip(connector, CLIENT_HOST, echo.port, b"\x00" * 16_384) == bytes(16_384)
    assert [host for host, _ in echo.peers] == [SOCKS_EXTERNAL_HOST]


async def test_host_names_are_resolved_by_the_proxy(
    danted: SocksSettings, echo: EchoServer
) -> None:
    connector = SocksConnector(danted, DeterministicRandom(b"names"))
    assert await round_trip(connector, "localhost", echo.port, b"ping") == b"ping"
    assert [host for host, _ in echo.peers] == [SOCKS_EXTERNAL_HOST]


async def test_every_connection_goes_through_socks(danted: SocksSettings, echo: EchoServer) -> None:
    connector = SocksConnector(danted, DeterministicRandom(b"many"))
    for index in range(3):
        payload = bytes([index]) * 100
        assert await round_trip(connector, CLIENT_HOST, echo.port, payload) == payload
    assert {host for host, _ in echo.peers} == {SOCKS_EXTERNAL_HOST}
    assert len(echo.peers) == 3


async def test_refused_destination_is_a_clean_error(danted: SocksSettings) -> None:
    connector = SocksConnector(danted, DeterministicRandom(b"refused"))
    with pytest.raises(SocksConnectFailed, match="could not connect"):
        await connector.connect(CLIENT_HOST, free_port())


async def test_relay_client_connects_only_through_socks(
    danted: SocksSettings, tmp_path: Path
) -> None:
    relay = await start_test_relay(tmp_path)
    # The forwarder stands in front of the relay and records who connects to it.
    forwarder = RecordingForwarder(CLIENT_HOST, relay.port)
    address = dataclasses.replace(relay.address, port=await forwarder.start())
    try:
        dialer = SocksConnector(danted, DeterministicRandom(b"relay"))
        async with await RelayClient.connect(address, dialer=dialer) as client:
            await client.ping()
        assert [host for host, _ in forwarder.peers] == [SOCKS_EXTERNAL_HOST]
    finally:
        await forwarder.close()
        await relay.stop()
