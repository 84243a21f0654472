"""Hellos, session binding and per-queue cryptography."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto import AuthenticationFailed, DeterministicRandom, Ed25519KeyPair, X25519KeyPair
from veil.relay.client.session import ClientSession
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import HandshakeFailed, UnexpectedResponse
from veil.relay.protocol.handshake import (
    HELLO_SIGNATURE_LABEL,
    RELAY_VERSIONS,
    ClientHello,
    decode_client_hello,
    decode_server_hello,
    sign_server_hello,
)
from veil.relay.protocol.queue_crypto import (
    SEALED_OVERHEAD,
    authenticate,
    delivery_key,
    derive_auth_key,
    open_message,
    seal_message,
)
from veil.relay.protocol.transmission import encode_transmission
from veil.wire import NoCommonVersion, VersionRange
from veil.wire.blocks import BLOCK_SIZE, decode_block, encode_block

IDENTITY = Ed25519KeyPair(bytes(range(32)))
SESSION_ID = b"\x11" * 32
SESSION_KEY = X25519KeyPair(b"\x22" * 32).public


def test_server_hello_layout_and_signature() -> None:
    hello = sign_server_hello(IDENTITY, VersionRange(1, 3), SESSION_ID, SESSION_KEY)
    block = hello.encode()
    [body] = decode_block(block)
    assert body == b"\x00\x01\x00\x03" + SESSION_ID + SESSION_KEY + hello.signature
    assert hello.signed_bytes() == HELLO_SIGNATURE_LABEL + body[:68]
    decoded = decode_server_hello(block)
    assert decoded == hello
    decoded.verify(IDENTITY.public)


def test_hello_from_another_identity_is_rejected() -> None:
    hello = sign_server_hello(IDENTITY, RELAY_VERSIONS, SESSION_ID, SESSION_KEY)
    impostor = Ed25519KeyPair(b"\x05" * 32)
    with pytest.raises(HandshakeFailed):
        hello.verify(impostor.public)
    with pytest.raises(HandshakeFailed):
        ClientSession.accept_hello(hello.encode(), impostor.public, DeterministicRandom(b"c"))


def test_tampered_session_key_breaks_the_signature() -> None:
    block = bytearray(sign_server_hello(IDENTITY, RELAY_VERSIONS, SESSION_ID, SESSION_KEY).encode())
    block[3 + 4 + 32] ^= 1
    with pytest.raises(HandshakeFailed):
        decode_server_hello(bytes(block)).verify(IDENTITY.public)


def test_client_hello_layout_and_version_agreement() -> None:
    block = ClientHello(VersionRange(1, 3)).encode()
    assert decode_block(block) == [b"\x00\x01\x00\x03"]
    assert decode_client_hello(block).versions.agree(RELAY_VERSIONS) == 3
    assert ClientHello(VersionRange(1, 1)).versions.agree(RELAY_VERSIONS) == 1
    hello = sign_server_hello(IDENTITY, VersionRange(5, 6), SESSION_ID, SESSION_KEY)
    with pytest.raises(NoCommonVersion):
        ClientSession.accept_hello(hello.encode(), IDENTITY.public, DeterministicRandom(b"c"))


@pytest.mark.parametrize(
    "block",
    [
        encode_block([b"\x00\x01\x00\x01"]),  # a client hello is not a server hello
        encode_block([b"\x00\x01"]),
        encode_block([b"\x00\x01\x00\x01", b"\x00\x01\x00\x01"]),  # two transmissions
        encode_block([b"\x00\x02\x00\x01" + bytes(128)]),  # min > max
        b"\x00" * BLOCK_SIZE,
    ],
)
def test_malformed_hellos(block: bytes) -> None:
    with pytest.raises(HandshakeFailed):
        decode_server_hello(block)


@given(st.binary(max_size=300))
def test_fuzz_hello_parsers_raise_only_handshake_failed(data: bytes) -> None:
    block = data.ljust(BLOCK_SIZE, b"\x00")
    for parse in (decode_server_hello, decode_client_hello):
        with contextlib.suppress(HandshakeFailed):
            parse(block)


def test_both_sides_derive_the_same_auth_key_and_delivery_key() -> None:
    queue_auth, relay_session = X25519KeyPair(b"\x01" * 32), X25519KeyPair(b"\x02" * 32)
    client_key = derive_auth_key(queue_auth, relay_session.public)
    assert client_key == derive_auth_key(relay_session, queue_auth.public)
    recipient_dh, relay_queue = X25519KeyPair(b"\x03" * 32), X25519KeyPair(b"\x04" * 32)
    assert delivery_key(recipient_dh, relay_queue.public) == delivery_key(
        relay_queue, recipient_dh.public
    )
    assert client_key != delivery_key(queue_auth, relay_session.public)


def test_sealed_message_round_trip_and_binding() -> None:
    key, message_id = b"\x09" * 32, b"\x0a" * 24
    sealed = seal_message(key, message_id, 1_700_000_000, cmd.FLAG_NOTIFY, b"body")
    assert len(sealed) == len(b"body") + SEALED_OVERHEAD
    opened = open_message(key, message_id, sealed)
    assert (opened.timestamp, opened.flags, opened.body) == (1_700_000_000, 1, b"body")
    with pytest.raises(AuthenticationFailed):
        open_message(key, b"\x0b" * 24, sealed)
    with pytest.raises(AuthenticationFailed):
        open_message(key, message_id, sealed[:-1] + bytes([sealed[-1] ^ 1]))


def test_client_session_builds_authenticated_transmissions() -> None:
    relay_session = X25519KeyPair(b"\x02" * 32)
    hello = sign_server_hello(IDENTITY, RELAY_VERSIONS, SESSION_ID, relay_session.public)
    client = ClientSession.accept_hello(hello.encode(), IDENTITY.public, DeterministicRandom(b"c"))
    auth = X25519KeyPair(b"\x03" * 32)
    entity_id = b"\x07" * 24
    correlation_id, transmission = client.command(cmd.Subscribe(), entity_id=entity_id, auth=auth)
    authorized = correlation_id + b"\x18" + entity_id + b"\x04"
    mac = authenticate(derive_auth_key(relay_session, auth.public), SESSION_ID, authorized)
    assert transmission == b"\x20" + mac + authorized


def test_client_rejects_authenticated_replies() -> None:
    hello = sign_server_hello(IDENTITY, RELAY_VERSIONS, SESSION_ID, SESSION_KEY)
    client = ClientSession.accept_hello(hello.encode(), IDENTITY.public, DeterministicRandom(b"c"))
    forged = encode_transmission(b"\x01" * 32, b"\x02" * 24, b"", b"\x82")
    with pytest.raises(UnexpectedResponse):
        client.parse_block(encode_block([forged]))
    [reply] = client.parse_block(encode_block([encode_transmission(b"", bytes(24), b"", b"\x83")]))
    assert reply.is_push and reply.response == rsp.SubscriptionEnded()
