"""Errors of the private-routing layer (codes 470-499, after the relay's 400-469).

Every one is a :class:`RoutingError`; which side failed is the next class down:

* :class:`RoutingProtocolError` (a :class:`veil.errors.ProtocolError`): a proxy or
  a destination relay.

  - **On the wire** (471-482): a proxy or a destination relay answers a routing
    command that failed with ``ERR code``; the client turns the code back into the
    same class with :func:`routing_error_for_code`.
  - **Client side only** (473-476): the proxy's answer does not prove the
    destination the client pinned. These never travel: the client stops using that
    proxy for that destination.

* :class:`RoutingLocalError` (a :class:`veil.errors.LocalError`, 490-499): relay
  lists, policies and SOCKS5 on this machine. Nothing remote misbehaved.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

from veil.errors import LocalError, ProtocolError, VeilError

__all__ = [
    "DestinationKeySubstituted",
    "DestinationNotVerified",
    "DestinationSessionKeyForged",
    "DestinationUnreachable",
    "ForwardRejected",
    "InvalidRoutingConfig",
    "MalformedRoutingCommand",
    "NoRouteAvailable",
    "ProxySessionUnknown",
    "ProxyingDisabled",
    "RoutingError",
    "RoutingErrorCode",
    "RoutingLocalError",
    "RoutingProtocolError",
    "SocksConnectFailed",
    "UnknownRelay",
    "UnsupportedRoutingVersion",
    "routing_error_for_code",
]


class RoutingErrorCode(IntEnum):
    """Every routing error code; ``ERR`` carries the wire ones as a ``u16``."""

    ROUTING = 470
    MALFORMED = 471
    UNSUPPORTED_VERSION = 472
    DESTINATION_NOT_VERIFIED = 473
    DESTINATION_KEY_SUBSTITUTED = 474
    DESTINATION_SESSION_KEY_FORGED = 475
    FORWARD_REJECTED = 476
    PROTOCOL = 477
    DESTINATION_UNREACHABLE = 480
    PROXY_SESSION_UNKNOWN = 481
    PROXYING_DISABLED = 482
    LOCAL = 490
    INVALID_CONFIG = 491
    UNKNOWN_RELAY = 492
    NO_ROUTE = 493
    SOCKS_CONNECT = 495


class RoutingError(VeilError):
    """Base of every error of the routing layer."""

    code: ClassVar[int] = RoutingErrorCode.ROUTING


class RoutingProtocolError(RoutingError, ProtocolError):
    """A proxy or destination broke private routing; fails one command, not a connection."""

    code: ClassVar[int] = RoutingErrorCode.PROTOCOL


class MalformedRoutingCommand(RoutingProtocolError):
    """A routing command or response does not decode (bad tag, length, or trailing bytes)."""

    code: ClassVar[int] = RoutingErrorCode.MALFORMED


class UnsupportedRoutingVersion(RoutingProtocolError):
    """A forwarded command names a routing version this side does not speak."""

    code: ClassVar[int] = RoutingErrorCode.UNSUPPORTED_VERSION


class DestinationNotVerified(RoutingProtocolError):
    """The proxy's ``PKEY`` does not prove the destination relay the client pinned.

    The proxy is either broken or attacking (a man in the middle); the client must
    not send anything through it to that destination.
    """

    code: ClassVar[int] = RoutingErrorCode.DESTINATION_NOT_VERIFIED


class DestinationKeySubstituted(DestinationNotVerified):
    """The identity key in ``PKEY`` does not hash to the fingerprint in the address."""

    code: ClassVar[int] = RoutingErrorCode.DESTINATION_KEY_SUBSTITUTED


class DestinationSessionKeyForged(DestinationNotVerified):
    """The destination's session key is not signed by its (correct) identity key."""

    code: ClassVar[int] = RoutingErrorCode.DESTINATION_SESSION_KEY_FORGED


class ForwardRejected(RoutingProtocolError):
    """A forwarded envelope failed to authenticate or to unpad at some hop.

    Tampering in transit or a key mix-up; the command had no effect.
    """

    code: ClassVar[int] = RoutingErrorCode.FORWARD_REJECTED


class DestinationUnreachable(RoutingProtocolError):
    """The proxy could not open (or lost) its session to the destination relay."""

    code: ClassVar[int] = RoutingErrorCode.DESTINATION_UNREACHABLE


class ProxySessionUnknown(RoutingProtocolError):
    """``PFWD`` names a proxy session that does not exist (any more): send ``PRXY`` again."""

    code: ClassVar[int] = RoutingErrorCode.PROXY_SESSION_UNKNOWN


class ProxyingDisabled(RoutingProtocolError):
    """This relay does not act as a proxy."""

    code: ClassVar[int] = RoutingErrorCode.PROXYING_DISABLED


_WIRE_ERRORS: dict[int, type[RoutingProtocolError]] = {
    cls.code: cls
    for cls in (
        MalformedRoutingCommand,
        UnsupportedRoutingVersion,
        ForwardRejected,
        DestinationUnreachable,
        ProxySessionUnknown,
        ProxyingDisabled,
    )
}


def routing_error_for_code(code: int) -> type[RoutingProtocolError] | None:
    """Return the routing error class an ``ERR`` code stands for, or ``None``.

    ``None`` means the code is not a routing code (it may be a relay code).
    """
    return _WIRE_ERRORS.get(code)


class RoutingLocalError(RoutingError, LocalError):
    """Base of the local errors of network choice: configuration, policy, SOCKS5."""

    code: ClassVar[int] = RoutingErrorCode.LOCAL


class InvalidRoutingConfig(RoutingLocalError):
    """A stored relay configuration does not parse, or has an unknown version."""

    code: ClassVar[int] = RoutingErrorCode.INVALID_CONFIG


class UnknownRelay(RoutingLocalError):
    """A command names a relay or operator that is not configured."""

    code: ClassVar[int] = RoutingErrorCode.UNKNOWN_RELAY


class NoRouteAvailable(RoutingLocalError):
    """The policy allows no route: no enabled relay or proxy fits, and going direct is barred."""

    code: ClassVar[int] = RoutingErrorCode.NO_ROUTE


class SocksConnectFailed(RoutingLocalError, ConnectionError):
    """The SOCKS5 proxy refused or could not make the connection.

    Also a :class:`ConnectionError`, so a relay client treats it like any host it
    cannot reach: it tries the address's next host, or reconnects later.
    """

    code: ClassVar[int] = RoutingErrorCode.SOCKS_CONNECT
