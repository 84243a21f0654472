"""The proxy's rules without the network: proofs, relayed forwards, retirement, idle sweeps."""

from __future__ import annotations

from dataclasses import dataclass

from helpers.routing_harness import make_hop
from veil.crypto import DeterministicRandom
from veil.relay.protocol.handshake import RELAY_VERSIONS
from veil.relay.protocol.transmission import decode_transmission
from veil.relay.server.metrics import RelayMetrics
from veil.routing.codec import (
    ROUTING_VERSIONS,
    ProxyForward,
    ProxyKey,
    ProxyRequest,
    RelayForward,
    decode_routing_command,
    decode_routing_response,
)
from veil.routing.forward_crypto import ProxiedDestination
from veil.routing.proxied_sender import ProxiedSender
from veil.routing.proxy_sessions import DestinationSession, ProxySessions

IDLE = 600.0


@dataclass
class FakeLink:
    connected: bool = True


def open_session(sessions: ProxySessions, now: float = 0.0) -> DestinationSession:
    hop = make_hop()
    return sessions.opened(
        hop.address.fingerprint,
        FakeLink(),
        identity_key=hop.identity.public,
        relay_version=RELAY_VERSIONS.maximum,
        hello=hop.hello,
        now=now,
    )


def test_the_proof_lets_the_client_verify_the_destination() -> None:
    hop = make_hop()
    sessions = ProxySessions(DeterministicRandom(b"proxy"), RelayMetrics(), IDLE)
    destination = open_session(sessions, now=5.0)
    version = sessions.agree_version(ProxyRequest(ROUTING_VERSIONS, hop.address))
    proof = decode_routing_response(sessions.proof(destination, version, now=9.0))
    assert isinstance(proof, ProxyKey)
    verified = ProxiedDestination.verify(hop.address, proof)
    assert verified.proxy_session_id == destination.proxy_session_id
    assert destination.last_used == 9.0
    assert sessions.by_fingerprint(hop.address.fingerprint) is destination


def test_a_relayed_forward_opens_at_the_destination_and_counts_as_pending() -> None:
    hop = make_hop()
    metrics = RelayMetrics()
    sessions = ProxySessions(DeterministicRandom(b"proxy"), metrics, IDLE)
    destination = open_session(sessions)
    forward = ProxiedSender(hop.destination, hop.client_rng).ping()
    pfwd = decode_routing_command(decode_transmission(forward.transmission).body)
    assert isinstance(pfwd, ProxyForward)
    relayed = sessions.relay(destination, pfwd)
    rfwd = decode_routing_command(decode_transmission(relayed.transmission).body)
    assert isinstance(rfwd, RelayForward)
    hop.receiver.open(rfwd)  # raises unless the destination can open it
    sessions.sent(destination, now=1.0)
    assert (destination.pending, metrics.forwards_proxied) == (1, 1)
    assert sessions.evict_idle(now=IDLE * 10) == []  # a forward in flight is never idle
    assert sessions.answered(destination) is False  # still listed: not to close


def test_the_one_timer_sweeps_idle_sessions_every_half_timeout() -> None:
    sessions = ProxySessions(DeterministicRandom(b"proxy"), RelayMetrics(), IDLE)
    assert sessions.next_timer() is None  # nothing to sweep yet
    destination = open_session(sessions, now=100.0)
    assert sessions.next_timer() == 100.0 + IDLE / 2
    assert sessions.handle_timer(100.0 + IDLE / 2 - 1) == []
    assert sessions.handle_timer(100.0 + IDLE / 2) == []  # due, but not idle long enough
    assert sessions.next_timer() == 100.0 + IDLE
    assert sessions.handle_timer(100.0 + IDLE) == [destination]
    assert sessions.by_id(destination.proxy_session_id) is None
