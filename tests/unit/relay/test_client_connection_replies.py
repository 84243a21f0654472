"""How a client connection routes replies to the commands waiting for them."""

from __future__ import annotations

import asyncio

import pytest

from veil.crypto import DeterministicRandom
from veil.relay.client.connection import ClientConnection
from veil.relay.client.session import ClientSession
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import AuthFailed, UnexpectedResponse
from veil.relay.protocol.transmission import encode_reply
from veil.relay.transport.tls import client_context
from veil.wire.blocks import encode_block

CORRELATION_ID = b"\x07" * 24


def connection_awaiting_answer() -> tuple[ClientConnection, asyncio.Future[rsp.Response]]:
    """A connection past its hello with one command waiting for its answer."""
    rng = DeterministicRandom(b"client connection replies")
    connection = ClientConnection(client_context(), bytes(32), rng, lambda _: None, lambda _: None)
    connection.session = ClientSession(bytes(32), bytes(32), 2, rng)
    future: asyncio.Future[rsp.Response] = asyncio.get_running_loop().create_future()
    connection._waiting[CORRELATION_ID] = future
    return connection, future


def error_block(code: int) -> bytes:
    body = rsp.encode_response(rsp.ErrorResponse(code))
    return encode_block([encode_reply(CORRELATION_ID, b"", body)])


async def test_known_error_code_fails_the_command_with_its_class() -> None:
    connection, future = connection_awaiting_answer()
    connection.on_block_received(error_block(AuthFailed.code))
    with pytest.raises(AuthFailed):
        future.result()


async def test_unknown_error_code_fails_the_command_instead_of_leaving_it_waiting() -> None:
    connection, future = connection_awaiting_answer()
    connection.on_block_received(error_block(499))
    assert future.done()
    with pytest.raises(UnexpectedResponse, match="unknown error code 499"):
        future.result()
