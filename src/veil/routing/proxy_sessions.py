"""The proxy role's state and rules, sans I/O: its shared sessions to destination relays.

:class:`ProxySessions` decides everything the proxy (:mod:`veil.routing.proxy`)
does short of the network: which destination session serves a ``PRXY``, what its
``PKEY`` says, how a ``PFWD`` becomes an ``RFWD`` and an ``RRES`` a ``PRES``, when a
session is retired, and which idle sessions its one timer closes. Times are the
caller's clock (the event loop's); randomness is injected. A destination session's
network link is opaque here: the proxy's asyncio adapter opens and closes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from veil.crypto import RandomSource
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol.handshake import ServerHello
from veil.relay.protocol.transmission import (
    CORRELATION_ID_SIZE,
    PUSH_CORRELATION_ID,
    encode_transmission,
)
from veil.relay.server.metrics import RelayMetrics
from veil.routing.codec import (
    PROXY_SESSION_ID_SIZE,
    ROUTING_VERSIONS,
    ProxyForward,
    ProxyKey,
    ProxyRequest,
    RelayResponse,
    decode_routing_response,
    encode_routing_command,
    encode_routing_response,
)
from veil.routing.errors import MalformedRoutingCommand, UnsupportedRoutingVersion
from veil.routing.forward_crypto import PendingForward, ProxyForwarder
from veil.wire import WireError

__all__ = [
    "MAX_DESTINATIONS",
    "PROXY_IDLE_TIMEOUT",
    "DestinationLink",
    "DestinationSession",
    "ProxySessions",
    "RelayedForward",
]

MAX_DESTINATIONS = 1024
"""Destination sessions a proxy keeps at once; clients choose them, so they are bounded."""
PROXY_IDLE_TIMEOUT = 600.0
"""Seconds a destination session with nothing in flight may go without a forward."""
_ERR = bytes((cmd.Tag.ERR,))


class DestinationLink(Protocol):
    """The network link of a destination session, as far as the rules need it."""

    @property
    def connected(self) -> bool:
        """True while the session with the destination relay is up."""
        ...


@dataclass(slots=True, eq=False)
class DestinationSession:
    """The proxy's shared session to one destination relay."""

    proxy_session_id: bytes
    fingerprint: str
    link: DestinationLink
    forwarder: ProxyForwarder
    proof: ProxyKey
    """``PKEY`` as sent to clients (its routing version is set per request)."""
    last_used: float
    """Time of the last ``PRXY`` answered or ``PFWD`` sent with it."""
    pending: int = 0
    """Forwards sent and not answered yet."""
    retired: bool = False
    """No longer offered to clients; closed once ``pending`` reaches zero."""


@dataclass(frozen=True, slots=True)
class RelayedForward:
    """A ``PFWD`` re-wrapped as an ``RFWD`` transmission for the destination session."""

    correlation_id: bytes
    transmission: bytes
    pending: PendingForward


class ProxySessions:
    """Every destination session of one proxy, and the rules for using them."""

    def __init__(
        self, rng: RandomSource, metrics: RelayMetrics, idle_timeout: float = PROXY_IDLE_TIMEOUT
    ) -> None:
        self._rng = rng
        self._metrics = metrics
        self._idle_timeout = idle_timeout
        self._by_id: dict[bytes, DestinationSession] = {}
        self._by_fingerprint: dict[str, DestinationSession] = {}
        self._next_sweep: float | None = None

    def __len__(self) -> int:
        return len(self._by_id)

    def sessions(self) -> list[DestinationSession]:
        """Every listed destination session."""
        return list(self._by_id.values())

    # -- PRXY ------------------------------------------------------------------------

    @staticmethod
    def agree_version(request: ProxyRequest) -> int:
        """The routing version for this ``PRXY``; :class:`UnsupportedRoutingVersion` if none."""
        try:
            return ROUTING_VERSIONS.agree(request.versions)
        except WireError as exc:
            raise UnsupportedRoutingVersion("no common routing version") from exc

    def by_fingerprint(self, fingerprint: str) -> DestinationSession | None:
        """The listed session to the destination with ``fingerprint``, if any."""
        return self._by_fingerprint.get(fingerprint)

    def full(self, opening: int) -> bool:
        """Whether no other session may open while ``opening`` are being opened."""
        return len(self._by_id) + opening >= MAX_DESTINATIONS

    def opened(
        self,
        fingerprint: str,
        link: DestinationLink,
        *,
        identity_key: bytes,
        relay_version: int,
        hello: ServerHello,
        now: float,
    ) -> DestinationSession:
        """List a session just opened to a destination that proved ``identity_key``."""
        proof = ProxyKey(
            proxy_session_id=self._rng.random_bytes(PROXY_SESSION_ID_SIZE),
            routing_version=ROUTING_VERSIONS.maximum,
            relay_version=relay_version,
            identity_key=identity_key,
            hello_versions=hello.versions,
            session_id=hello.session_id,
            session_key=hello.session_key,
            signature=hello.signature,
        )
        forwarder = ProxyForwarder(hello.session_id, hello.session_key, self._rng)
        destination = DestinationSession(
            proof.proxy_session_id, fingerprint, link, forwarder, proof, now
        )
        if self._next_sweep is None:
            self._next_sweep = now + self._idle_timeout / 2
        self._by_id[destination.proxy_session_id] = destination
        self._by_fingerprint[fingerprint] = destination
        self._metrics.proxy_sessions_opened += 1
        return destination

    def proof(self, destination: DestinationSession, routing_version: int, now: float) -> bytes:
        """The ``PKEY`` body answering a ``PRXY`` with ``destination``."""
        destination.last_used = now
        return encode_routing_response(replace(destination.proof, routing_version=routing_version))

    # -- PFWD ------------------------------------------------------------------------

    def by_id(self, proxy_session_id: bytes) -> DestinationSession | None:
        """The listed session a ``PFWD`` names, if any."""
        return self._by_id.get(proxy_session_id)

    def relay(self, destination: DestinationSession, pfwd: ProxyForward) -> RelayedForward:
        """Re-wrap a ``PFWD`` for ``destination``; raises its routing error if it cannot."""
        relay_forward, pending = destination.forwarder.wrap(pfwd)
        correlation_id = self._correlation_id()
        body = encode_routing_command(relay_forward)
        return RelayedForward(
            correlation_id, encode_transmission(b"", correlation_id, b"", body), pending
        )

    def sent(self, destination: DestinationSession, now: float) -> None:
        """A relayed forward went out on ``destination``; retire it if that was its last."""
        self._metrics.forwards_proxied += 1
        destination.pending += 1
        destination.last_used = now
        if destination.forwarder.exhausted:
            # The next PFWD naming it gets 481: its client sends PRXY again and gets a
            # fresh session, whose forwards the destination opens anew.
            self.unlist(destination)
            destination.retired = True

    def answered(self, destination: DestinationSession) -> bool:
        """A forward on ``destination`` was answered; True if the session is now to close."""
        destination.pending -= 1
        return destination.retired and destination.pending == 0

    @staticmethod
    def reply(pending: PendingForward, body: bytes) -> bytes:
        """The client's answer to its ``PFWD`` from the destination's reply ``body``.

        An ``ERR`` (the destination's own refusal, e.g. 476) passes on as it is; an
        ``RRES`` becomes the ``PRES``; anything else raises its routing error.
        """
        if body[:1] == _ERR:
            return body
        response = decode_routing_response(body)
        if not isinstance(response, RelayResponse):
            raise MalformedRoutingCommand("destination did not answer RFWD with RRES")
        return encode_routing_response(pending.unwrap(response))

    # -- idle sessions: the one timer -----------------------------------------------

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` sweeps idle sessions next (``None``: nothing to sweep)."""
        return self._next_sweep

    def handle_timer(self, now: float) -> list[DestinationSession]:
        """Sweep if due; return the sessions to close."""
        if self._next_sweep is None or now < self._next_sweep:
            return []
        self._next_sweep = now + self._idle_timeout / 2
        return self.evict_idle(now)

    def evict_idle(self, now: float) -> list[DestinationSession]:
        """Unlist sessions idle since ``now - idle_timeout``; return them, to close.

        A session with a forward in flight is never idle.
        """
        deadline = now - self._idle_timeout
        idle = [d for d in self._by_id.values() if d.pending == 0 and d.last_used <= deadline]
        for destination in idle:
            self.unlist(destination)
        return idle

    def unlist(self, destination: DestinationSession) -> None:
        """Offer ``destination`` to clients no more."""
        self._by_id.pop(destination.proxy_session_id, None)
        if self._by_fingerprint.get(destination.fingerprint) is destination:
            del self._by_fingerprint[destination.fingerprint]

    def clear(self) -> None:
        """Forget every session (the proxy closes their links)."""
        self._by_id.clear()
        self._by_fingerprint.clear()

    def _correlation_id(self) -> bytes:
        while True:
            correlation_id = self._rng.random_bytes(CORRELATION_ID_SIZE)
            if correlation_id != PUSH_CORRELATION_ID:
                return correlation_id
