"""Hostile input gets a clean error or a closed connection; other clients carry on."""

from __future__ import annotations

import asyncio
import os
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from helpers.raw import RawRelayConnection
from helpers.relay import RunningTestRelay
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import MessageReceived, SenderQueue
from veil.relay.client.relay_client import RelayClient
from veil.relay.client.session import ClientSession
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import ErrorCode
from veil.relay.protocol.handshake import ClientHello
from veil.relay.protocol.transmission import encode_transmission
from veil.wire import VersionRange
from veil.wire.blocks import BLOCK_SIZE, encode_block


@pytest.fixture
async def bystander(relay: RunningTestRelay) -> AsyncIterator[RelayClient]:
    """An honest client that must keep being served while others misbehave."""
    client = await RelayClient.connect(relay.address, reconnect=None)
    yield client
    await client.close()


async def assert_still_serving(client: RelayClient) -> None:
    queue = await client.create_queue()
    sender = SenderQueue(queue.sender_id, X25519KeyPair.generate(SystemRandom()))
    await client.secure_queue(queue, sender.auth.public)
    await client.send(sender, b"still here")
    message = await client.get(queue)
    assert isinstance(message, MessageReceived) and message.body == b"still here"


async def ready_connection(relay: RunningTestRelay) -> tuple[RawRelayConnection, ClientSession]:
    raw = await RawRelayConnection.open(relay.port)
    return raw, await raw.handshake(relay.identity.key_pair.public)


def raw_block(first_bytes: bytes) -> bytes:
    return first_bytes + bytes(BLOCK_SIZE - len(first_bytes))


async def send_random_tcp(relay: RunningTestRelay) -> RawRelayConnection:
    raw = await RawRelayConnection.open(relay.port, tls=False)
    await raw.write(os.urandom(20_000))
    return raw


async def send_random_block_as_hello(relay: RunningTestRelay) -> RawRelayConnection:
    raw = await RawRelayConnection.open(relay.port)
    await raw.read_block()
    await raw.write(os.urandom(BLOCK_SIZE))
    return raw


async def send_random_block(relay: RunningTestRelay) -> RawRelayConnection:
    raw, _ = await ready_connection(relay)
    await raw.write(os.urandom(BLOCK_SIZE))
    return raw


async def send_oversized_length(relay: RunningTestRelay) -> RawRelayConnection:
    raw, _ = await ready_connection(relay)
    await raw.write(raw_block(b"\x01\xff\xff"))  # one transmission of 65,535 bytes
    return raw


async def send_nonzero_padding(relay: RunningTestRelay) -> RawRelayConnection:
    raw, session = await ready_connection(relay)
    _, transmission = session.ping()
    block = bytearray(encode_block([transmission]))
    block[-1] = 1
    await raw.write(bytes(block))
    return raw


async def send_malformed_transmission(relay: RunningTestRelay) -> RawRelayConnection:
    raw, _ = await ready_connection(relay)
    # A 5-byte entity id: the header is broken, so there is no one to answer.
    transmission = b"\x00" + bytes(24) + b"\x05" + bytes(5) + bytes([cmd.Tag.PING])
    await raw.write(encode_block([transmission]))
    return raw


async def send_wrong_version(relay: RunningTestRelay) -> RawRelayConnection:
    raw = await RawRelayConnection.open(relay.port)
    await raw.read_block()
    await raw.write(ClientHello(VersionRange(100, 200)).encode())
    return raw


async def send_truncated_block_then_hang_up(relay: RunningTestRelay) -> RawRelayConnection:
    raw, session = await ready_connection(relay)
    _, transmission = session.ping()
    await raw.write(encode_block([transmission])[:1000])
    await raw.close()
    return raw


@pytest.mark.parametrize(
    "attack",
    [
        send_random_tcp,
        send_random_block_as_hello,
        send_random_block,
        send_oversized_length,
        send_nonzero_padding,
        send_malformed_transmission,
        send_wrong_version,
    ],
)
async def test_broken_framing_closes_only_that_connection(
    relay: RunningTestRelay,
    bystander: RelayClient,
    attack: Callable[[RunningTestRelay], Awaitable[RawRelayConnection]],
) -> None:
    raw = await attack(relay)
    assert await raw.closed_by_relay()
    await raw.close()
    await assert_still_serving(bystander)
    assert sum(relay.server.metrics.connections_dropped.values()) >= 1


async def test_truncated_block_then_hang_up(
    relay: RunningTestRelay, bystander: RelayClient
) -> None:
    await send_truncated_block_then_hang_up(relay)
    for _ in range(100):
        if relay.server.metrics.connections_open == 1:
            break
        await asyncio.sleep(0.01)
    assert relay.server.metrics.connections_open == 1  # only the bystander is left
    await assert_still_serving(bystander)


async def command_error(relay: RunningTestRelay, transmission: bytes) -> int:
    """Send one transmission on a fresh session; return the ERR code it got."""
    raw, session = await ready_connection(relay)
    try:
        await raw.write(encode_block([transmission]))
        [reply] = await raw.replies(session)
        assert isinstance(reply.response, rsp.ErrorResponse)
        # The connection is still usable afterwards.
        _, ping = session.ping()
        await raw.write(encode_block([ping]))
        [pong] = await raw.replies(session)
        assert isinstance(pong.response, rsp.Pong)
        return reply.response.code
    finally:
        await raw.close()


async def test_unknown_command_is_an_error_answer(
    relay: RunningTestRelay, bystander: RelayClient
) -> None:
    transmission = encode_transmission(b"", bytes(range(24)), b"", b"\x7f")
    assert await command_error(relay, transmission) == ErrorCode.UNKNOWN_COMMAND
    await assert_still_serving(bystander)


async def test_bad_authenticator_is_auth_error(
    relay: RunningTestRelay, bystander: RelayClient
) -> None:
    queue = await bystander.create_queue()
    body = cmd.encode_command(cmd.Subscribe())
    forged = encode_transmission(os.urandom(32), bytes(range(24)), queue.recipient_id, body)
    assert await command_error(relay, forged) == ErrorCode.AUTH
    missing = encode_transmission(os.urandom(32), bytes(range(24)), os.urandom(24), body)
    assert await command_error(relay, missing) == ErrorCode.AUTH
    await assert_still_serving(bystander)


async def test_oversized_send_body_is_large_message(
    relay: RunningTestRelay, bystander: RelayClient
) -> None:
    body = bytes([cmd.Tag.SEND, 0]) + (cmd.MAX_MESSAGE_BODY + 1).to_bytes(2, "big")
    body += bytes(cmd.MAX_MESSAGE_BODY + 1)
    transmission = encode_transmission(os.urandom(32), bytes(range(24)), os.urandom(24), body)
    assert await command_error(relay, transmission) == ErrorCode.LARGE_MSG
    await assert_still_serving(bystander)


async def test_truncated_command_is_syntax_error(
    relay: RunningTestRelay, bystander: RelayClient
) -> None:
    body = bytes([cmd.Tag.ACK]) + bytes(10)  # an ACK's message id is 24 bytes
    transmission = encode_transmission(os.urandom(32), bytes(range(24)), os.urandom(24), body)
    assert await command_error(relay, transmission) == ErrorCode.SYNTAX
    await assert_still_serving(bystander)


def tls_context(*, alpn: list[str] | None, version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = version
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    return context


@pytest.mark.parametrize(
    "context",
    [
        tls_context(alpn=None, version=ssl.TLSVersion.TLSv1_3),
        tls_context(alpn=["http/1.1"], version=ssl.TLSVersion.TLSv1_3),
        tls_context(alpn=["veil/1"], version=ssl.TLSVersion.TLSv1_2),
    ],
    ids=["no-alpn", "other-alpn", "tls-1.2"],
)
async def test_only_tls13_with_veil_alpn_is_served(
    relay: RunningTestRelay, bystander: RelayClient, context: ssl.SSLContext
) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port, ssl=context)
    except (ssl.SSLError, ConnectionError):
        pass  # refused during the handshake (TLS 1.2)
    else:
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, no hello
        writer.close()
    await assert_still_serving(bystander)


def random_transmission(rng: random.Random) -> bytes:
    """Bytes shaped like a transmission, with random lengths, ids and command bytes."""
    authenticator = rng.choice([b"", rng.randbytes(32), rng.randbytes(rng.randrange(1, 40))])
    entity = rng.choice([b"", rng.randbytes(24), rng.randbytes(rng.randrange(1, 30))])
    tag = rng.choice([*cmd.Tag, 0, 0x7F, 0xFF])
    command = bytes([tag]) + rng.randbytes(rng.randrange(0, 80))
    return (
        bytes([len(authenticator)])
        + authenticator
        + rng.randbytes(24)
        + bytes([len(entity)])
        + entity
        + command
    )


async def test_fuzzed_transmissions_never_break_the_relay(
    relay: RunningTestRelay, bystander: RelayClient
) -> None:
    rng = random.Random(20_261_121)  # fixed seed: the same cases on every run
    answered = closed = 0
    for _ in range(40):
        raw, session = await ready_connection(relay)
        transmissions = [random_transmission(rng) for _ in range(rng.randrange(1, 20))]
        await raw.write(encode_block(transmissions))
        try:
            replies = await raw.replies(session)
        except (asyncio.IncompleteReadError, ConnectionError):
            closed += 1  # a malformed header closes the connection: allowed
        else:
            assert all(isinstance(r.response, rsp.ErrorResponse | rsp.Pong) for r in replies)
            answered += 1
        await raw.close()
    assert answered and closed  # both outcomes were exercised
    await assert_still_serving(bystander)


async def test_silent_peers_are_dropped_after_the_handshake_timeout(
    relay: RunningTestRelay, bystander: RelayClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("veil.relay.transport.tls.HANDSHAKE_TIMEOUT", 0.2)
    silent_tcp = await RawRelayConnection.open(relay.port, tls=False)
    no_hello = await RawRelayConnection.open(relay.port)
    await no_hello.read_block()  # the relay's hello; then we never answer
    for raw in (silent_tcp, no_hello):
        assert await raw.closed_by_relay()
        await raw.close()
    assert relay.server.metrics.connections_dropped["TimeoutError"] == 2
    await assert_still_serving(bystander)
