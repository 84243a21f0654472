"""Relays and operators as the client sees them, and the choice of routes (sans I/O).

A user keeps a list of relays, each belonging to an operator (the person or
organisation that runs it) and each enabled or disabled for two jobs: holding
the user's receive queues, and acting as a proxy for sending. The
private-routing mode decides which sends go through a proxy:

==================  ========================================================
mode                a send to relay D goes through a proxy when ...
==================  ========================================================
``always``          always
``unknown-relays``  D is not one of the user's own relays (the default)
``never``           never: every send connects to D directly
==================  ========================================================

Fallback when a proxy cannot be reached: the caller reports it with
``failed_proxies`` and asks again; :func:`choose_route` then picks another proxy,
and raises :class:`NoRouteAvailable` when none is left. It never falls back to
a direct connection, in either proxied mode: a send that must hide the sender's
address waits (and is retried later) rather than leaking it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from veil.crypto import RandomSource
from veil.relay.protocol.address import RelayAddress
from veil.routing.errors import NoRouteAvailable, UnknownRelay

__all__ = [
    "DirectRoute",
    "OperatorSummary",
    "ProxiedRoute",
    "RelayEntry",
    "Route",
    "RoutingMode",
    "RoutingPolicy",
    "SocksSettings",
    "choose_receive_relay",
    "choose_route",
    "hosts_to_try",
    "random_index",
]

MAX_OPERATOR_NAME = 64


class RoutingMode(StrEnum):
    """Which sends go through a proxy relay."""

    ALWAYS = "always"
    UNKNOWN_RELAYS = "unknown-relays"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class RelayEntry:
    """One configured relay.

    ``own`` marks relays the user chose as their own: with ``unknown-relays``,
    sends to them go direct. ``receive`` and ``proxy`` enable the relay for new
    receive queues and for proxying. ``password`` is a private relay's password,
    sent with ``NEW`` when creating a queue there (sending needs none).
    """

    address: RelayAddress
    operator: str
    own: bool = True
    receive: bool = True
    proxy: bool = True
    password: str | None = None

    def __post_init__(self) -> None:
        name = self.operator
        if not 0 < len(name) <= MAX_OPERATOR_NAME or not name.isprintable() or name != name.strip():
            raise ValueError(
                f"operator name must be 1..{MAX_OPERATOR_NAME} printable characters, "
                "without leading or trailing spaces"
            )

    @property
    def fingerprint(self) -> str:
        """The relay's identity fingerprint: how the configuration names it."""
        return self.address.fingerprint


@dataclass(frozen=True, slots=True)
class SocksSettings:
    """Send every relay connection through a SOCKS5 proxy (Tor, I2P, your own).

    With ``isolate``, each relay connection gets its own random credentials, so
    Tor builds a separate circuit for it.
    """

    host: str
    port: int
    isolate: bool = True

    def __post_init__(self) -> None:
        if not self.host or not 1 <= self.port <= 0xFFFF:
            raise ValueError("SOCKS5 proxy needs a host and a port in 1..65535")

    @classmethod
    def parse(cls, text: str) -> SocksSettings:
        """Parse ``HOST:PORT`` (``[v6]:PORT`` for IPv6), as given to ``--socks``."""
        host, separator, port = text.rpartition(":")
        if not separator or not port.isdigit():
            raise ValueError(f"expected HOST:PORT, got {text!r}")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return cls(host, int(port))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class OperatorSummary:
    """An operator with its relays, for listings."""

    name: str
    relays: tuple[RelayEntry, ...]


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """The user's relays, routing mode and optional SOCKS5 proxy; immutable.

    Each change returns a new policy, so a caller can validate and persist it
    before anything uses it.
    """

    relays: tuple[RelayEntry, ...] = ()
    mode: RoutingMode = RoutingMode.UNKNOWN_RELAYS
    socks: SocksSettings | None = None

    def __post_init__(self) -> None:
        fingerprints = [relay.fingerprint for relay in self.relays]
        if len(set(fingerprints)) != len(fingerprints):
            raise ValueError("each relay is configured once")

    def find(self, fingerprint: str) -> RelayEntry | None:
        """The configured relay with this fingerprint, if any."""
        return next((r for r in self.relays if r.fingerprint == fingerprint), None)

    def with_relay(self, relay: RelayEntry) -> RoutingPolicy:
        """Add ``relay``, or replace the entry with the same fingerprint."""
        others = tuple(r for r in self.relays if r.fingerprint != relay.fingerprint)
        return replace(self, relays=(*others, relay))

    def without_relay(self, fingerprint: str) -> RoutingPolicy:
        """Remove a relay; :class:`UnknownRelay` if it is not configured."""
        if self.find(fingerprint) is None:
            raise UnknownRelay(f"no relay with fingerprint {fingerprint}")
        return replace(self, relays=tuple(r for r in self.relays if r.fingerprint != fingerprint))

    def with_flags(
        self,
        fingerprints: Sequence[str],
        *,
        receive: bool | None = None,
        proxy: bool | None = None,
    ) -> RoutingPolicy:
        """Set the ``receive`` and/or ``proxy`` flags of some relays.

        :class:`UnknownRelay` if a fingerprint is not configured.
        """
        missing = [f for f in fingerprints if self.find(f) is None]
        if missing:
            raise UnknownRelay(f"no relay with fingerprint {', '.join(missing)}")
        chosen = set(fingerprints)
        relays = tuple(
            replace(
                relay,
                receive=relay.receive if receive is None else receive,
                proxy=relay.proxy if proxy is None else proxy,
            )
            if relay.fingerprint in chosen
            else relay
            for relay in self.relays
        )
        return replace(self, relays=relays)

    def relays_of(self, operator: str) -> tuple[RelayEntry, ...]:
        """The relays of one operator; :class:`UnknownRelay` if it has none."""
        relays = tuple(r for r in self.relays if r.operator == operator)
        if not relays:
            raise UnknownRelay(f"no operator named {operator!r}")
        return relays

    def operators(self) -> list[OperatorSummary]:
        """Every operator with its relays, sorted by name."""
        names = sorted({relay.operator for relay in self.relays})
        return [OperatorSummary(name, self.relays_of(name)) for name in names]

    def is_proxied(self, destination: RelayAddress) -> bool:
        """Whether the mode sends to ``destination`` through a proxy."""
        if self.mode is RoutingMode.NEVER:
            return False
        if self.mode is RoutingMode.ALWAYS:
            return True
        known = self.find(destination.fingerprint)
        return known is None or not known.own


@dataclass(frozen=True, slots=True)
class DirectRoute:
    """Connect to the destination relay itself."""

    destination: RelayAddress


@dataclass(frozen=True, slots=True)
class ProxiedRoute:
    """Send to the destination through ``proxy``."""

    destination: RelayAddress
    proxy: RelayEntry


Route = DirectRoute | ProxiedRoute


def random_index(rng: RandomSource, count: int) -> int:
    """A uniform index in ``range(count)`` from ``rng`` (rejection sampling, no bias)."""
    if not 0 < count <= 0xFFFFFFFF:
        raise ValueError("count must be in 1..2**32-1")
    limit = (1 << 32) - (1 << 32) % count
    while True:
        value = int.from_bytes(rng.random_bytes(4), "big")
        if value < limit:
            return value % count


def choose_receive_relay(policy: RoutingPolicy, rng: RandomSource) -> RelayEntry:
    """A random relay enabled for receiving, for a new receive queue.

    Raises :class:`NoRouteAvailable` when no relay is enabled for receiving.
    """
    candidates = [relay for relay in policy.relays if relay.receive]
    if not candidates:
        raise NoRouteAvailable("no relay is enabled for receiving: `veil relays enable`")
    return candidates[random_index(rng, len(candidates))]


def choose_route(
    policy: RoutingPolicy,
    destination: RelayAddress,
    rng: RandomSource,
    *,
    failed_proxies: frozenset[str] = frozenset(),
) -> Route:
    """How to send to ``destination`` now.

    A proxy is never the destination itself and never one in ``failed_proxies``
    (fingerprints of proxies that could not be reached for this send). Proxies of
    another operator than the destination's are preferred; among equals the choice
    is random. Raises :class:`NoRouteAvailable` when a proxy is needed and none is
    left; it never degrades to a direct route.
    """
    if not policy.is_proxied(destination):
        return DirectRoute(destination)
    candidates = [
        relay
        for relay in policy.relays
        if relay.proxy
        and relay.fingerprint != destination.fingerprint
        and relay.fingerprint not in failed_proxies
    ]
    if not candidates:
        raise NoRouteAvailable(
            f"no usable proxy for {destination} and private routing is {policy.mode}"
        )
    known = policy.find(destination.fingerprint)
    if known is not None:
        independent = [relay for relay in candidates if relay.operator != known.operator]
        candidates = independent or candidates
    return ProxiedRoute(destination, candidates[random_index(rng, len(candidates))])


def hosts_to_try(address: RelayAddress, socks: SocksSettings | None) -> tuple[str, ...]:
    """The hosts of ``address`` to connect to, in order (see
    :meth:`RelayAddress.hosts_in_order`); :class:`NoRouteAvailable` when none is left.
    """
    hosts = address.hosts_in_order(through_socks=socks is not None)
    if not hosts:
        raise NoRouteAvailable(f"{address} has only .onion hosts: configure SOCKS5 (Tor)")
    return hosts
