"""Client -> proxy -> destination in memory, in real blocks, with stand-in relays.

The stand-ins do what docs/protocol/routing.md section 6 asks of a relay, using only
the routing layer's pure pieces and the relay's own transmission and MAC code.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from helpers.routing_harness import PROXY_SESSION_ID, Hop, proxy_key_for
from veil.crypto import DeterministicRandom, Ed25519KeyPair, X25519KeyPair
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import AuthFailed, UnexpectedResponse
from veil.relay.protocol.handshake import RELAY_VERSIONS, sign_server_hello
from veil.relay.protocol.queue_crypto import derive_auth_key, verify_authenticator
from veil.relay.protocol.transmission import decode_transmission, encode_transmission
from veil.routing import (
    PendingForward,
    ProxyForward,
    ProxyKey,
    RelayForward,
    RelayResponse,
    decode_routing_command,
    decode_routing_response,
    encode_routing_command,
    encode_routing_response,
)
from veil.routing.errors import (
    DestinationKeySubstituted,
    DestinationUnreachable,
    ForwardRejected,
    MalformedRoutingCommand,
    ProxySessionUnknown,
)
from veil.routing.proxied_sender import Forward, ProxiedSender, proxy_request, read_proxy_key
from veil.wire.blocks import decode_block, encode_block

SENDER_ID = b"\x44" * 24
SENDER_AUTH = X25519KeyPair(b"\x31" * 32)
SENDER_COMMANDS = (cmd.SenderSecureQueue, cmd.SendMessage, cmd.Ping)


def error(code: int) -> bytes:
    return rsp.encode_response(rsp.ErrorResponse(code))


@dataclass
class Destination:
    """A destination relay's forwarded-command handling, with one queue."""

    hop: Hop
    stored: list[bytes] = field(default_factory=list)
    answer_correlation_id: bytes | None = None
    answer: rsp.Response = dataclasses.field(default_factory=rsp.Ok)

    def handle(self, block: bytes) -> bytes:
        replies = []
        for data in decode_block(block):
            transmission = decode_transmission(data)
            forward = decode_routing_command(transmission.body)
            assert isinstance(forward, RelayForward)
            opened = self.hop.receiver.open(forward)
            response = self.execute(opened.transmission)
            body = encode_routing_response(opened.seal_response(response))
            replies.append(encode_transmission(b"", transmission.correlation_id, b"", body))
        return encode_block(replies)

    def execute(self, data: bytes) -> bytes:
        inner = decode_transmission(data)
        command = cmd.decode_command(inner.body)
        assert isinstance(command, SENDER_COMMANDS)
        if not isinstance(command, cmd.Ping):
            auth_key = derive_auth_key(self.hop.session_key, SENDER_AUTH.public)
            assert verify_authenticator(
                auth_key, self.hop.hello.session_id, inner.authorized, inner.authenticator
            )
        if isinstance(command, cmd.SendMessage):
            self.stored.append(command.body)
        correlation_id = self.answer_correlation_id or inner.correlation_id
        body = rsp.encode_response(self.answer)
        return encode_transmission(b"", correlation_id, inner.entity_id, body)


@dataclass
class Proxy:
    """A proxy relay with one live session, to the hop's destination."""

    hop: Hop
    destination: Destination
    proxy_key: ProxyKey | None = None
    reachable: bool = True
    pending: dict[bytes, tuple[bytes, PendingForward]] = field(default_factory=dict)
    outbound: list[bytes] = field(default_factory=list)
    rng: DeterministicRandom = field(default_factory=lambda: DeterministicRandom(b"proxy ids"))

    def handle(self, block: bytes) -> bytes:
        return encode_block([self.one(data) for data in decode_block(block)])

    def one(self, data: bytes) -> bytes:
        transmission = decode_transmission(data)
        correlation_id = transmission.correlation_id
        command = decode_routing_command(transmission.body)
        if not self.reachable:
            return encode_transmission(b"", correlation_id, b"", error(480))
        if isinstance(command, ProxyForward):
            if transmission.entity_id != PROXY_SESSION_ID:
                return encode_transmission(b"", correlation_id, b"", error(481))
            return self.forward(correlation_id, command)
        key = self.proxy_key or self.hop.proxy_key
        return encode_transmission(b"", correlation_id, b"", encode_routing_response(key))

    def forward(self, client_correlation_id: bytes, command: ProxyForward) -> bytes:
        relay_forward, pending = self.hop.forwarder.wrap(command)
        own_id = self.rng.random_bytes(24)
        self.pending[own_id] = (client_correlation_id, pending)
        rfwd = encode_transmission(b"", own_id, b"", encode_routing_command(relay_forward))
        self.outbound.append(rfwd)
        [answer] = decode_block(self.destination.handle(encode_block([rfwd])))
        received = decode_transmission(answer)
        client_id, pending = self.pending.pop(received.correlation_id)
        relay_response = decode_routing_response(received.body)
        assert isinstance(relay_response, RelayResponse)
        body = encode_routing_response(pending.unwrap(relay_response))
        return encode_transmission(b"", client_id, b"", body)


@dataclass
class World:
    hop: Hop
    destination: Destination
    proxy: Proxy

    def exchange(self, transmission: bytes) -> tuple[bytes, bytes]:
        """Send one transmission to the proxy; return the reply's correlation id and body."""
        [reply] = decode_block(self.proxy.handle(encode_block([transmission])))
        decoded = decode_transmission(reply)
        return decoded.correlation_id, decoded.body

    def send(self, forward: Forward) -> rsp.Response:
        correlation_id, body = self.exchange(forward.transmission)
        assert correlation_id == forward.correlation_id
        return forward.read_reply(body)


@pytest.fixture
def world(hop: Hop) -> World:
    destination = Destination(hop)
    return World(hop, destination, Proxy(hop, destination))


def connect(world: World) -> ProxiedSender:
    rng = DeterministicRandom(b"client")
    correlation_id, request = proxy_request(world.hop.address, rng)
    answered, body = world.exchange(request)
    assert answered == correlation_id
    return ProxiedSender(read_proxy_key(body, world.hop.address), rng)


def test_secure_and_send_through_the_proxy(world: World) -> None:
    sender = connect(world)
    assert world.send(sender.sender_secure(SENDER_ID, SENDER_AUTH)) == rsp.Ok()
    assert world.send(sender.send(SENDER_ID, SENDER_AUTH, b"hello Bob")) == rsp.Ok()
    assert world.send(sender.ping()) == rsp.Ok()
    assert world.destination.stored == [b"hello Bob"]
    assert not world.proxy.pending


def test_destination_errors_come_back_as_responses(world: World) -> None:
    sender = connect(world)
    world.destination.answer = rsp.ErrorResponse(414)
    reply = world.send(sender.send(SENDER_ID, SENDER_AUTH, b"full"))
    assert reply == rsp.ErrorResponse(414)


def test_a_proxy_substituting_the_destination_key_is_caught(world: World) -> None:
    impostor = Ed25519KeyPair(b"\x77" * 32)
    session_key = X25519KeyPair(b"\x78" * 32).public
    hello = sign_server_hello(impostor, RELAY_VERSIONS, b"\x79" * 32, session_key)
    world.proxy.proxy_key = proxy_key_for(impostor, hello)
    with pytest.raises(DestinationKeySubstituted):
        connect(world)


def test_proxy_errors_raise_their_classes(world: World) -> None:
    sender = connect(world)
    forward = sender.send(SENDER_ID, SENDER_AUTH, b"x")
    world.proxy.reachable = False
    with pytest.raises(DestinationUnreachable):
        world.send(forward)
    with pytest.raises(DestinationUnreachable):
        connect(world)
    with pytest.raises(AuthFailed):
        forward.read_reply(error(413))
    stale = dataclasses.replace(sender.destination, proxy_session_id=b"\x00" * 24)
    world.proxy.reachable = True
    with pytest.raises(ProxySessionUnknown):
        world.send(ProxiedSender(stale, DeterministicRandom(b"s")).ping())


def test_a_reply_for_another_command_is_rejected(world: World) -> None:
    sender = connect(world)
    first = sender.send(SENDER_ID, SENDER_AUTH, b"1")
    second = sender.send(SENDER_ID, SENDER_AUTH, b"2")
    _, body = world.exchange(second.transmission)
    with pytest.raises(ForwardRejected):
        first.read_reply(body)
    with pytest.raises(MalformedRoutingCommand):
        first.read_reply(encode_routing_response(world.hop.proxy_key))


def test_destination_answer_to_another_correlation_id_is_rejected(world: World) -> None:
    sender = connect(world)
    world.destination.answer_correlation_id = b"\x01" * 24
    with pytest.raises(UnexpectedResponse):
        world.send(sender.send(SENDER_ID, SENDER_AUTH, b"x"))


def test_retry_after_a_lost_answer_is_a_fresh_envelope_but_a_proxy_replay_is_refused(
    world: World,
) -> None:
    sender = connect(world)
    lost = sender.send(SENDER_ID, SENDER_AUTH, b"once")
    world.exchange(lost.transmission)  # stored, but the answer never reached the client
    retried = sender.send(SENDER_ID, SENDER_AUTH, b"once")
    assert world.send(retried) == rsp.Ok()
    # The agent's message ids drop the duplicate; the relay layer must accept both.
    assert world.destination.stored == [b"once", b"once"]
    replayed = decode_routing_command(decode_transmission(world.proxy.outbound[0]).body)
    assert isinstance(replayed, RelayForward)
    with pytest.raises(ForwardRejected, match="replayed"):
        world.hop.receiver.open(replayed)
