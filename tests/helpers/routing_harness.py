"""A client, a proxy and a destination relay, wired together in memory (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto import DeterministicRandom, Ed25519KeyPair, X25519KeyPair, sha256
from veil.relay.protocol.address import RelayAddress, encode_fingerprint
from veil.relay.protocol.handshake import RELAY_VERSIONS, ServerHello, sign_server_hello
from veil.routing import ForwardReceiver, ProxiedDestination, ProxyForwarder, ProxyKey
from veil.routing.codec import ROUTING_VERSIONS

PROXY_SESSION_ID = b"\x5a" * 24


def address_of(identity: Ed25519KeyPair, host: str = "dest.example") -> RelayAddress:
    """The ``veil://`` address that pins ``identity``."""
    return RelayAddress(encode_fingerprint(sha256(identity.public)), (host,))


def proxy_key_for(identity: Ed25519KeyPair, hello: ServerHello) -> ProxyKey:
    """The ``PKEY`` an honest proxy returns for a destination that sent ``hello``."""
    return ProxyKey(
        proxy_session_id=PROXY_SESSION_ID,
        routing_version=ROUTING_VERSIONS.maximum,
        relay_version=RELAY_VERSIONS.maximum,
        identity_key=identity.public,
        hello_versions=hello.versions,
        session_id=hello.session_id,
        session_key=hello.session_key,
        signature=hello.signature,
    )


@dataclass
class Hop:
    """Everything one proxied path needs; each party has its own random source."""

    identity: Ed25519KeyPair
    session_key: X25519KeyPair
    hello: ServerHello
    address: RelayAddress
    proxy_key: ProxyKey
    destination: ProxiedDestination
    forwarder: ProxyForwarder
    receiver: ForwardReceiver
    client_rng: DeterministicRandom


def make_hop(seed: bytes = b"hop") -> Hop:
    """Build a verified path: client -> proxy -> destination."""
    relay_rng = DeterministicRandom(seed + b"/relay")
    identity = Ed25519KeyPair.generate(relay_rng)
    session_key = X25519KeyPair.generate(relay_rng)
    hello = sign_server_hello(
        identity, RELAY_VERSIONS, relay_rng.random_bytes(32), session_key.public
    )
    address = address_of(identity)
    proxy_key = proxy_key_for(identity, hello)
    return Hop(
        identity=identity,
        session_key=session_key,
        hello=hello,
        address=address,
        proxy_key=proxy_key,
        destination=ProxiedDestination.verify(address, proxy_key),
        forwarder=ProxyForwarder(
            hello.session_id, session_key.public, DeterministicRandom(seed + b"/proxy")
        ),
        receiver=ForwardReceiver(hello.session_id, session_key),
        client_rng=DeterministicRandom(seed + b"/client"),
    )
