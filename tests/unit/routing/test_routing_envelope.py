"""The proxy hop's cryptography: round trips, what each side sees, and every forgery."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.routing_harness import PROXY_SESSION_ID, Hop, address_of, make_hop, proxy_key_for
from veil.crypto import DeterministicRandom, Ed25519KeyPair, X25519KeyPair
from veil.errors import ProtocolError
from veil.relay.client.session import ClientSession
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.handshake import RELAY_VERSIONS, sign_server_hello
from veil.relay.protocol.queue_crypto import derive_auth_key, verify_authenticator
from veil.relay.protocol.transmission import decode_transmission, encode_transmission
from veil.routing import (
    ForwardReceiver,
    ProxiedDestination,
    ProxiedSender,
    ProxyForward,
    ProxyForwarder,
    ProxyResponse,
    RelayForward,
    RelayResponse,
    encode_routing_command,
    encode_routing_response,
)
from veil.routing.codec import WRAPPED_COMMAND_SIZE
from veil.routing.errors import (
    DestinationKeySubstituted,
    DestinationNotVerified,
    DestinationSessionKeyForged,
    ForwardRejected,
    UnsupportedRoutingVersion,
)
from veil.wire import VersionRange

SENDER_ID = b"\x44" * 24
SENDER_AUTH = X25519KeyPair(b"\x31" * 32)
WINDOW = 32


def send_transmission(hop: Hop, body: bytes) -> bytes:
    """A SEND the client builds for the proxy's session at the destination."""
    dest = hop.destination
    session = ClientSession(dest.session_id, dest.session_key, dest.relay_version, hop.client_rng)
    return session.send(SENDER_ID, SENDER_AUTH, body)[1]


def ok_response(correlation_id: bytes) -> bytes:
    return encode_transmission(b"", correlation_id, SENDER_ID, rsp.encode_response(rsp.Ok()))


def windows(data: bytes) -> set[bytes]:
    return {data[i : i + WINDOW] for i in range(len(data) - WINDOW + 1)}


def client_side(forward: ProxyForward) -> bytes:
    """The PFWD transmission as the proxy receives it from the client."""
    body = encode_routing_command(forward)
    return encode_transmission(b"", b"\xc1" * 24, PROXY_SESSION_ID, body)


def destination_side(forward: RelayForward) -> bytes:
    """The RFWD transmission as the destination receives it from the proxy."""
    return encode_transmission(b"", b"\xc2" * 24, b"", encode_routing_command(forward))


def test_command_and_response_cross_the_proxy_intact(hop: Hop) -> None:
    transmission = send_transmission(hop, b"hello Bob")
    forward, pending = hop.destination.seal_command(transmission, hop.client_rng)
    relay_forward, pending_forward = hop.forwarder.wrap(forward)
    opened = hop.receiver.open(relay_forward)
    assert opened.transmission == transmission

    response = ok_response(decode_transmission(transmission).correlation_id)
    relay_response = opened.seal_response(response)
    assert pending.open_response(pending_forward.unwrap(relay_response)) == response


def test_destination_authenticates_the_forwarded_command_like_a_direct_one(hop: Hop) -> None:
    transmission = send_transmission(hop, b"hi")
    forward, _ = hop.destination.seal_command(transmission, hop.client_rng)
    opened = hop.receiver.open(hop.forwarder.wrap(forward)[0])
    received = decode_transmission(opened.transmission)
    auth_key = derive_auth_key(hop.session_key, SENDER_AUTH.public)
    assert verify_authenticator(
        auth_key, hop.hello.session_id, received.authorized, received.authenticator
    )
    assert received.entity_id == SENDER_ID
    assert cmd.decode_command(received.body) == cmd.SendMessage(0, b"hi")


@settings(max_examples=25)
@given(body=st.binary(max_size=cmd.MAX_MESSAGE_BODY), seed=st.binary(min_size=1, max_size=8))
def test_no_32_byte_window_crosses_the_proxy_unchanged(body: bytes, seed: bytes) -> None:
    hop = make_hop(seed)
    transmission = send_transmission(hop, body)
    forward, _ = hop.destination.seal_command(transmission, hop.client_rng)
    relay_forward, pending_forward = hop.forwarder.wrap(forward)
    assert not windows(client_side(forward)) & windows(destination_side(relay_forward))

    opened = hop.receiver.open(relay_forward)
    relay_response = opened.seal_response(ok_response(b"\x01" * 24))
    proxy_response = pending_forward.unwrap(relay_response)
    inbound = encode_routing_response(relay_response)
    outbound = encode_routing_response(proxy_response)
    assert not windows(inbound) & windows(outbound)


def test_an_all_zero_message_is_still_unrecognisable_at_both_hops(hop: Hop) -> None:
    transmission = send_transmission(hop, bytes(cmd.MAX_MESSAGE_BODY))
    forward, _ = hop.destination.seal_command(transmission, hop.client_rng)
    relay_forward, _ = hop.forwarder.wrap(forward)
    assert not windows(transmission) & windows(client_side(forward))
    assert not windows(transmission) & windows(destination_side(relay_forward))


def test_destination_cannot_link_two_commands_to_one_sender() -> None:
    """Two forwards of one client share exactly what forwards of two clients share:
    the tag, the version and the proxy's own forwarding key."""
    hop = make_hop()
    other_client_rng = DeterministicRandom(b"another client")
    forwards = []
    for rng in (hop.client_rng, hop.client_rng, other_client_rng):
        forward, _ = hop.destination.seal_command(send_transmission(hop, b"same"), rng)
        forwards.append(encode_routing_command(hop.forwarder.wrap(forward)[0]))
    same_sender = windows(forwards[0]) & windows(forwards[1])
    two_senders = windows(forwards[0]) & windows(forwards[2])
    assert same_sender == two_senders
    assert same_sender == windows(b"\x12\x00\x01" + hop.forwarder.forwarding_key)


def test_each_command_uses_a_fresh_ephemeral_key(hop: Hop) -> None:
    transmission = send_transmission(hop, b"x")
    first, _ = hop.destination.seal_command(transmission, hop.client_rng)
    second, _ = hop.destination.seal_command(transmission, hop.client_rng)
    assert first.ephemeral_key != second.ephemeral_key
    assert first.sealed != second.sealed


# -- man in the middle -------------------------------------------------------------


def test_substituted_identity_key_is_detected(hop: Hop) -> None:
    impostor = Ed25519KeyPair(b"\x66" * 32)
    hello = sign_server_hello(impostor, RELAY_VERSIONS, b"\x01" * 32, b"\x02" * 32)
    with pytest.raises(DestinationKeySubstituted):
        ProxiedDestination.verify(hop.address, proxy_key_for(impostor, hello))


def test_substituted_session_key_is_detected(hop: Hop) -> None:
    proxy_own_key = X25519KeyPair(b"\x67" * 32).public
    forged = dataclasses.replace(hop.proxy_key, session_key=proxy_own_key)
    with pytest.raises(DestinationSessionKeyForged):
        ProxiedDestination.verify(hop.address, forged)


def test_every_changed_hello_field_breaks_the_proof(hop: Hop) -> None:
    for change in (
        {"session_id": b"\x00" * 32},
        {"hello_versions": VersionRange(1, RELAY_VERSIONS.maximum + 1)},
        {"signature": b"\x00" * 64},
    ):
        with pytest.raises(DestinationSessionKeyForged):
            ProxiedDestination.verify(hop.address, dataclasses.replace(hop.proxy_key, **change))


def test_address_of_another_relay_rejects_an_honest_key(hop: Hop) -> None:
    other_address = address_of(Ed25519KeyPair(b"\x68" * 32))
    with pytest.raises(DestinationNotVerified):
        ProxiedDestination.verify(other_address, hop.proxy_key)


def test_claimed_versions_must_be_offered(hop: Hop) -> None:
    with pytest.raises(DestinationNotVerified):
        ProxiedDestination.verify(
            hop.address,
            dataclasses.replace(hop.proxy_key, relay_version=RELAY_VERSIONS.maximum + 1),
        )
    with pytest.raises(UnsupportedRoutingVersion):
        ProxiedDestination.verify(
            hop.address, dataclasses.replace(hop.proxy_key, routing_version=9)
        )


# -- tampering, replay, misuse -----------------------------------------------------


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes((data[position] ^ 1,)) + data[position + 1 :]


@pytest.mark.parametrize("position", [0, 100, -1])
def test_tampered_client_envelope_is_rejected_by_the_destination(hop: Hop, position: int) -> None:
    forward, _ = hop.destination.seal_command(send_transmission(hop, b"m"), hop.client_rng)
    tampered = dataclasses.replace(forward, sealed=_flip(forward.sealed, position))
    with pytest.raises(ForwardRejected):
        hop.receiver.open(hop.forwarder.wrap(tampered)[0])


def test_tampered_ephemeral_key_is_rejected(hop: Hop) -> None:
    forward, _ = hop.destination.seal_command(send_transmission(hop, b"m"), hop.client_rng)
    tampered = dataclasses.replace(forward, ephemeral_key=_flip(forward.ephemeral_key, 3))
    with pytest.raises(ForwardRejected):
        hop.receiver.open(hop.forwarder.wrap(tampered)[0])


@pytest.mark.parametrize("field", ["forwarding_key", "seed", "wrapped"])
def test_tampered_forward_layer_is_rejected(hop: Hop, field: str) -> None:
    forward, _ = hop.destination.seal_command(send_transmission(hop, b"m"), hop.client_rng)
    relay_forward, _ = hop.forwarder.wrap(forward)
    changes: dict[str, Any] = {field: _flip(getattr(relay_forward, field), 5)}
    with pytest.raises(ForwardRejected):
        hop.receiver.open(dataclasses.replace(relay_forward, **changes))


def test_tampered_responses_are_rejected_at_each_hop(hop: Hop) -> None:
    forward, pending = hop.destination.seal_command(send_transmission(hop, b"m"), hop.client_rng)
    relay_forward, pending_forward = hop.forwarder.wrap(forward)
    relay_response = hop.receiver.open(relay_forward).seal_response(ok_response(b"\x01" * 24))
    with pytest.raises(ForwardRejected):
        pending_forward.unwrap(RelayResponse(_flip(relay_response.wrapped, 7)))
    proxy_response = pending_forward.unwrap(relay_response)
    with pytest.raises(ForwardRejected):
        pending.open_response(ProxyResponse(_flip(proxy_response.sealed, 7)))


def test_a_response_cannot_answer_another_command(hop: Hop) -> None:
    first, pending_first = hop.destination.seal_command(
        send_transmission(hop, b"1"), hop.client_rng
    )
    second, _ = hop.destination.seal_command(send_transmission(hop, b"2"), hop.client_rng)
    relay_second, pending_second = hop.forwarder.wrap(second)
    hop.forwarder.wrap(first)
    answer = pending_second.unwrap(hop.receiver.open(relay_second).seal_response(b"\x01"))
    with pytest.raises(ForwardRejected):
        pending_first.open_response(answer)


def test_replayed_forward_is_rejected_even_when_rewrapped(hop: Hop) -> None:
    forward, _ = hop.destination.seal_command(send_transmission(hop, b"once"), hop.client_rng)
    relay_forward, _ = hop.forwarder.wrap(forward)
    hop.receiver.open(relay_forward)
    with pytest.raises(ForwardRejected, match="replayed"):
        hop.receiver.open(relay_forward)
    with pytest.raises(ForwardRejected, match="replayed"):
        hop.receiver.open(hop.forwarder.wrap(forward)[0])


def test_a_session_opens_a_bounded_number_of_forwards_and_forgets_none(hop: Hop) -> None:
    receiver = ForwardReceiver(hop.hello.session_id, hop.session_key, max_forwards=2)
    forwards = []
    for body in (b"a", b"b", b"c"):
        forward, _ = hop.destination.seal_command(send_transmission(hop, body), hop.client_rng)
        forwards.append(hop.forwarder.wrap(forward)[0])
    rejected = dataclasses.replace(forwards[1], wrapped=_flip(forwards[1].wrapped, 0))
    with pytest.raises(ForwardRejected):
        receiver.open(rejected)  # a forgery takes no place
    receiver.open(forwards[0])
    receiver.open(forwards[1])
    # A bounded window of recent keys could be flushed by the proxy with forwards of
    # its own, then a SEND replayed; a full session refuses everything instead.
    with pytest.raises(ForwardRejected, match="maximum of forwards"):
        receiver.open(forwards[2])
    with pytest.raises(ForwardRejected, match="maximum of forwards"):
        receiver.open(forwards[0])


def test_the_proxy_forwarder_is_exhausted_when_the_destination_would_refuse(hop: Hop) -> None:
    forwarder = ProxyForwarder(
        hop.hello.session_id, hop.hello.session_key, hop.client_rng, max_forwards=1
    )
    forward, _ = hop.destination.seal_command(send_transmission(hop, b"a"), hop.client_rng)
    assert not forwarder.exhausted
    forwarder.wrap(forward)
    assert forwarder.exhausted
    with pytest.raises(ForwardRejected, match="last forward"):
        forwarder.wrap(forward)


def test_another_session_cannot_open_the_forward(hop: Hop) -> None:
    forward, _ = hop.destination.seal_command(send_transmission(hop, b"m"), hop.client_rng)
    relay_forward, _ = hop.forwarder.wrap(forward)
    other = ForwardReceiver(b"\x09" * 32, hop.session_key)
    with pytest.raises(ForwardRejected):
        other.open(relay_forward)


def test_low_order_forwarding_key_is_rejected(hop: Hop) -> None:
    forward, _ = hop.destination.seal_command(send_transmission(hop, b"m"), hop.client_rng)
    relay_forward, _ = hop.forwarder.wrap(forward)
    with pytest.raises(ForwardRejected, match="usable"):
        hop.receiver.open(dataclasses.replace(relay_forward, forwarding_key=bytes(32)))


def test_unknown_routing_versions_are_refused_at_proxy_and_destination(hop: Hop) -> None:
    forward, _ = hop.destination.seal_command(send_transmission(hop, b"m"), hop.client_rng)
    with pytest.raises(UnsupportedRoutingVersion):
        hop.forwarder.wrap(dataclasses.replace(forward, version=2))
    relay_forward, _ = hop.forwarder.wrap(forward)
    with pytest.raises(UnsupportedRoutingVersion):
        hop.receiver.open(dataclasses.replace(relay_forward, version=2))


def test_oversized_payloads_are_caller_errors(hop: Hop) -> None:
    with pytest.raises(ValueError, match="fit"):
        hop.destination.seal_command(b"\x00" * 16_191, hop.client_rng)
    forward, _ = hop.destination.seal_command(send_transmission(hop, b"m"), hop.client_rng)
    opened = hop.receiver.open(hop.forwarder.wrap(forward)[0])
    with pytest.raises(ValueError, match="fit"):
        opened.seal_response(b"\x00" * 511)


def test_same_randomness_gives_the_same_bytes() -> None:
    def run() -> bytes:
        hop = make_hop(b"fixed")
        forward, _ = hop.destination.seal_command(send_transmission(hop, b"v"), hop.client_rng)
        return encode_routing_command(hop.forwarder.wrap(forward)[0])

    assert run() == run()


# -- fuzzing: network bytes only ever raise the layer's errors ---------------------


@settings(max_examples=100)
@given(
    version=st.integers(0, 3),
    key=st.binary(min_size=32, max_size=32),
    seed=st.binary(min_size=32, max_size=32),
    head=st.binary(max_size=64),
)
def test_forged_forwards_fail_cleanly(version: int, key: bytes, seed: bytes, head: bytes) -> None:
    hop = make_hop(b"fuzz")
    wrapped = head + bytes(WRAPPED_COMMAND_SIZE - len(head))
    with pytest.raises((ForwardRejected, UnsupportedRoutingVersion)):
        hop.receiver.open(RelayForward(version, key, seed, wrapped))


@settings(max_examples=100)
@given(st.binary(max_size=600))
def test_any_proxy_reply_is_read_or_fails_cleanly(body: bytes) -> None:
    hop = make_hop(b"fuzz")
    forward = ProxiedSender(hop.destination, hop.client_rng).ping()
    try:
        forward.read_reply(body)
    except ProtocolError:
        return
    raise AssertionError("random bytes were accepted as a sealed reply")
