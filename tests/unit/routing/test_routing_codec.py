"""The routing codec: exact layouts, strict decoding, and that everything fits a block."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.routing_harness import PROXY_SESSION_ID, Hop
from veil.crypto import X25519KeyPair
from veil.relay.client.session import ClientSession
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.transmission import encode_transmission
from veil.routing.codec import (
    FORWARDED_COMMAND_SIZE,
    SEALED_COMMAND_SIZE,
    SEALED_RESPONSE_SIZE,
    WRAPPED_COMMAND_SIZE,
    WRAPPED_RESPONSE_SIZE,
    ProxyForward,
    ProxyKey,
    ProxyRequest,
    ProxyResponse,
    RelayForward,
    RelayResponse,
    RoutingCommand,
    RoutingResponse,
    decode_routing_command,
    decode_routing_response,
    encode_routing_command,
    encode_routing_response,
)
from veil.routing.errors import MalformedRoutingCommand
from veil.wire import VersionRange
from veil.wire.blocks import MAX_TRANSMISSION_SIZE

CORRELATION_ID = b"\xc0" * 24
ADDRESS_TEXT = "veil://" + "A" * 43 + "@relay.example,abcdefghijklmnop.onion:7000"


def sample_commands() -> list[RoutingCommand]:
    return [
        ProxyRequest(VersionRange(1, 2), RelayAddress.parse(ADDRESS_TEXT)),
        ProxyForward(1, b"\x01" * 32, b"\x02" * SEALED_COMMAND_SIZE),
        RelayForward(1, b"\x03" * 32, b"\x04" * 32, b"\x05" * WRAPPED_COMMAND_SIZE),
    ]


def sample_responses() -> list[RoutingResponse]:
    return [
        ProxyKey(
            PROXY_SESSION_ID, 1, 1, b"\x06" * 32, VersionRange(1, 1), b"\x07" * 32,
            b"\x08" * 32, b"\x09" * 64,
        ),
        ProxyResponse(b"\x0a" * SEALED_RESPONSE_SIZE),
        RelayResponse(b"\x0b" * WRAPPED_RESPONSE_SIZE),
    ]  # fmt: skip


def test_proxy_request_layout() -> None:
    [request, *_] = sample_commands()
    encoded = encode_routing_command(request)
    text = ADDRESS_TEXT.encode()
    assert encoded == b"\x10" + b"\x00\x01\x00\x02" + len(text).to_bytes(2, "big") + text


def test_proxy_key_layout() -> None:
    [key, *_] = sample_responses()
    assert encode_routing_response(key) == (
        b"\x90" + PROXY_SESSION_ID + b"\x00\x01" + b"\x00\x01" + b"\x06" * 32
        + b"\x00\x01\x00\x01" + b"\x07" * 32 + b"\x08" * 32 + b"\x09" * 64
    )  # fmt: skip


def test_forward_layouts_have_fixed_sizes() -> None:
    _, forward, relay_forward = sample_commands()
    assert encode_routing_command(forward) == (
        b"\x11\x00\x01" + b"\x01" * 32 + b"\x02" * SEALED_COMMAND_SIZE
    )
    assert encode_routing_command(relay_forward) == (
        b"\x12\x00\x01" + b"\x03" * 32 + b"\x04" * 32 + b"\x05" * WRAPPED_COMMAND_SIZE
    )
    _, response, relay_response = sample_responses()
    assert encode_routing_response(response) == b"\x91" + b"\x0a" * SEALED_RESPONSE_SIZE
    assert encode_routing_response(relay_response) == b"\x92" + b"\x0b" * WRAPPED_RESPONSE_SIZE


@pytest.mark.parametrize("command", sample_commands(), ids=lambda c: c.tag.name)
def test_commands_round_trip_and_reject_any_change_of_length(command: RoutingCommand) -> None:
    encoded = encode_routing_command(command)
    assert decode_routing_command(encoded) == command
    with pytest.raises(MalformedRoutingCommand):
        decode_routing_command(encoded + b"\x00")
    with pytest.raises(MalformedRoutingCommand):
        decode_routing_command(encoded[:-1])


@pytest.mark.parametrize("response", sample_responses(), ids=lambda r: r.tag.name)
def test_responses_round_trip_and_reject_any_change_of_length(response: RoutingResponse) -> None:
    encoded = encode_routing_response(response)
    assert decode_routing_response(encoded) == response
    with pytest.raises(MalformedRoutingCommand):
        decode_routing_response(encoded + b"\x00")
    with pytest.raises(MalformedRoutingCommand):
        decode_routing_response(encoded[:-1])


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01", b"\x90", b"\x13" + bytes(40), b"\x10\x00\x00\x00\x01\x00\x00"],
    ids=["empty", "relay tag", "response tag", "unknown tag", "zero version"],
)
def test_bad_commands_are_rejected(data: bytes) -> None:
    with pytest.raises(MalformedRoutingCommand):
        decode_routing_command(data)


@pytest.mark.parametrize(
    "address",
    [
        ADDRESS_TEXT.replace("relay.example", "RELAY.example"),  # not lower case
        ADDRESS_TEXT.replace(":7000", ":5223"),  # default port spelled out
        ADDRESS_TEXT.replace("veil://", "http://"),
        ADDRESS_TEXT.replace("relay.example", "relay.\u00e9xample"),
    ],
    ids=["upper case", "default port", "scheme", "non-ascii"],
)
def test_proxy_request_needs_a_canonical_address(address: str) -> None:
    text = address.encode()
    data = b"\x10\x00\x01\x00\x01" + len(text).to_bytes(2, "big") + text
    with pytest.raises(MalformedRoutingCommand):
        decode_routing_command(data)


def test_proxy_request_address_length_is_capped() -> None:
    data = b"\x10\x00\x01\x00\x01" + (4096).to_bytes(2, "big") + b"a" * 4096
    with pytest.raises(MalformedRoutingCommand, match="cap"):
        decode_routing_command(data)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_fuzzed_commands_decode_canonically_or_fail_cleanly(data: bytes) -> None:
    try:
        command = decode_routing_command(data)
    except MalformedRoutingCommand:
        return
    assert encode_routing_command(command) == data


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_fuzzed_responses_decode_canonically_or_fail_cleanly(data: bytes) -> None:
    try:
        response = decode_routing_response(data)
    except MalformedRoutingCommand:
        return
    assert encode_routing_response(response) == data


@settings(max_examples=50)
@given(st.sampled_from(sample_commands()), st.integers(0, 400), st.integers(0, 255))
def test_mutated_commands_decode_canonically_or_fail_cleanly(
    command: RoutingCommand, position: int, value: int
) -> None:
    data = bytearray(encode_routing_command(command))
    data[position % len(data)] = value
    try:
        decoded = decode_routing_command(bytes(data))
    except MalformedRoutingCommand:
        return
    assert encode_routing_command(decoded) == bytes(data)


def test_largest_send_fits_the_forwarded_command(hop: Hop) -> None:
    session = ClientSession(hop.hello.session_id, hop.hello.session_key, 1, hop.client_rng)
    sender = X25519KeyPair(b"\x31" * 32)
    _, transmission = session.send(b"\x44" * 24, sender, b"\xff" * cmd.MAX_MESSAGE_BODY)
    assert len(transmission) <= FORWARDED_COMMAND_SIZE - 2  # u16 padding length prefix


def test_forward_transmissions_fit_one_block() -> None:
    _, forward, relay_forward = sample_commands()
    on_client_side = encode_transmission(
        b"", CORRELATION_ID, PROXY_SESSION_ID, encode_routing_command(forward)
    )
    on_destination_side = encode_transmission(
        b"", CORRELATION_ID, b"", encode_routing_command(relay_forward)
    )
    assert len(on_client_side) <= MAX_TRANSMISSION_SIZE
    assert len(on_destination_side) <= MAX_TRANSMISSION_SIZE
