"""Isolation credentials: what the SOCKS5 proxy is offered, recorded by a tiny fake proxy.

The fake proxy speaks just enough SOCKS5 (RFC 1928, RFC 1929) to record the
offered methods, the credentials and the requested host, then refuses the
connection. The real-server test is ``tests/integration/socks``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from veil.crypto import DeterministicRandom
from veil.routing.errors import SocksConnectFailed
from veil.routing.policy import SocksSettings
from veil.routing.socks import ISOLATION_CREDENTIAL_BYTES, SocksConnector

_USERNAME_PASSWORD = 0x02
_NO_AUTH = 0x00
_DOMAIN = 0x03
_CONNECTION_REFUSED = 0x05


@dataclass
class Attempt:
    methods: bytes
    credentials: tuple[bytes, bytes] | None = None
    host: bytes = b""


@dataclass
class RecordingSocksServer:
    attempts: list[Attempt] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _version, count = await reader.readexactly(2)
        attempt = Attempt(await reader.readexactly(count))
        self.attempts.append(attempt)
        method = _USERNAME_PASSWORD if _USERNAME_PASSWORD in attempt.methods else _NO_AUTH
        writer.write(bytes((5, method)))
        if method == _USERNAME_PASSWORD:
            _auth_version, user_length = await reader.readexactly(2)
            user = await reader.readexactly(user_length)
            password = await reader.readexactly((await reader.readexactly(1))[0])
            attempt.credentials = (user, password)
            writer.write(b"\x01\x00")
        _version, _command, _reserved, address_type = await reader.readexactly(4)
        assert address_type == _DOMAIN
        attempt.host = await reader.readexactly((await reader.readexactly(1))[0])
        await reader.readexactly(2)  # port
        writer.write(bytes((5, _CONNECTION_REFUSED, 0, 1)) + bytes(6))
        await writer.drain()
        writer.close()


@pytest.fixture
async def fake_proxy() -> AsyncIterator[tuple[RecordingSocksServer, int]]:
    recorder = RecordingSocksServer()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    async with server:
        yield recorder, server.sockets[0].getsockname()[1]


async def connect_twice(connector: SocksConnector, host: str) -> None:
    for _ in range(2):
        with pytest.raises(SocksConnectFailed):
            await connector.connect(host, 443)


async def test_each_connection_gets_its_own_random_credentials(
    fake_proxy: tuple[RecordingSocksServer, int],
) -> None:
    recorder, port = fake_proxy
    onion = "a" * 56 + ".onion"
    await connect_twice(
        SocksConnector(SocksSettings("127.0.0.1", port), DeterministicRandom(b"i")), onion
    )
    first, second = (attempt.credentials for attempt in recorder.attempts)
    assert first is not None and second is not None
    assert first != second
    assert {len(part) for part in (*first, *second)} == {2 * ISOLATION_CREDENTIAL_BYTES}
    # The .onion name reaches the proxy as a name: nothing was resolved locally.
    assert [attempt.host for attempt in recorder.attempts] == [onion.encode()] * 2


async def test_without_isolation_no_credentials_are_offered(
    fake_proxy: tuple[RecordingSocksServer, int],
) -> None:
    recorder, port = fake_proxy
    settings = SocksSettings("127.0.0.1", port, isolate=False)
    await connect_twice(SocksConnector(settings, DeterministicRandom(b"n")), "relay.example")
    assert [attempt.methods for attempt in recorder.attempts] == [bytes((_NO_AUTH,))] * 2
    assert all(attempt.credentials is None for attempt in recorder.attempts)


async def test_unreachable_proxy_is_a_clean_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    connector = SocksConnector(SocksSettings("127.0.0.1", port), DeterministicRandom(b"u"))
    with pytest.raises(SocksConnectFailed, match=f"127.0.0.1:{port}"):
        await connector.connect("relay.example", 443)
