"""Relay addresses: ``veil://<fingerprint>@host[,host2...][:port]``.

The fingerprint pins the relay's identity key, so an address is all a client needs
to reach a relay and to know it reached the right one; no certificate authority is
involved. Several hosts name the same relay (for example a clearnet name and an
onion name); they share one port. IPv6 literals are written in brackets.

Parsing is strict: one canonical form per address, so two equal addresses always
print the same and a link cannot smuggle extra parts (paths, queries, user names).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass

from veil.relay.protocol.errors import InvalidAddress

__all__ = [
    "ADDRESS_SCHEME",
    "DEFAULT_PORT",
    "FINGERPRINT_LENGTH",
    "MAX_HOSTS",
    "RelayAddress",
    "decode_fingerprint",
    "encode_fingerprint",
    "normalise_host",
]

ADDRESS_SCHEME = "veil://"
DEFAULT_PORT = 5223
MAX_HOSTS = 8
ONION_SUFFIX = ".onion"
"""Hosts under this suffix are Tor onion services: reachable only through SOCKS5 (Tor)."""
MAX_ADDRESS_LENGTH = 2048
#: A fingerprint is a 32-byte SHA-256 digest in unpadded base64url: 43 characters.
FINGERPRINT_LENGTH = 43
_FINGERPRINT_BYTES = 32
_MAX_HOSTNAME_LENGTH = 253
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_PORT_DIGITS = re.compile(r"[0-9]{1,5}")


def encode_fingerprint(digest: bytes) -> str:
    """Return the unpadded base64url text of a 32-byte fingerprint digest."""
    if len(digest) != _FINGERPRINT_BYTES:
        raise ValueError(f"a fingerprint digest is {_FINGERPRINT_BYTES} bytes")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def decode_fingerprint(text: str) -> bytes:
    """Return the 32-byte digest of fingerprint ``text``; :class:`InvalidAddress` if bad."""
    if len(text) != FINGERPRINT_LENGTH or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise InvalidAddress(f"a fingerprint is {FINGERPRINT_LENGTH} base64url characters")
    try:
        digest = base64.urlsafe_b64decode(text + "=")
    except binascii.Error as exc:
        raise InvalidAddress("fingerprint is not valid base64url") from exc
    if encode_fingerprint(digest) != text:
        # Unused low bits in the last character must be zero: one spelling per key.
        raise InvalidAddress("fingerprint is not in canonical base64url form")
    return digest


@dataclass(frozen=True, slots=True)
class RelayAddress:
    """Where a relay is and which identity it must prove.

    ``hosts`` are normalised: DNS names in lower case, IP literals in their
    compressed form, IPv6 without brackets.
    """

    fingerprint: str
    hosts: tuple[str, ...]
    port: int = DEFAULT_PORT

    def __post_init__(self) -> None:
        decode_fingerprint(self.fingerprint)
        if not 1 <= len(self.hosts) <= MAX_HOSTS:
            raise InvalidAddress(f"an address names 1 to {MAX_HOSTS} hosts")
        if [normalise_host(host) for host in self.hosts] != list(self.hosts):
            raise InvalidAddress("hosts must be given in normalised form")
        if len(set(self.hosts)) != len(self.hosts):
            raise InvalidAddress("an address names each host once")
        if not 1 <= self.port <= 0xFFFF:
            raise InvalidAddress("port must be in 1..65535")

    def hosts_in_order(self, *, through_socks: bool) -> tuple[str, ...]:
        """The hosts to connect to, in order.

        Through SOCKS5, ``.onion`` hosts come first (the connection then never leaves
        Tor); without it they are left out: only Tor can reach them, and asking the
        system resolver for one would leak the name to the local DNS.
        """
        onion = tuple(host for host in self.hosts if host.endswith(ONION_SUFFIX))
        clear = tuple(host for host in self.hosts if not host.endswith(ONION_SUFFIX))
        return onion + clear if through_socks else clear

    @property
    def fingerprint_digest(self) -> bytes:
        """The pinned 32-byte digest of the relay's identity key."""
        return decode_fingerprint(self.fingerprint)

    @classmethod
    def parse(cls, text: str) -> RelayAddress:
        """Parse ``veil://<fingerprint>@host[,host2...][:port]``.

        Raises :class:`InvalidAddress` with a message that names the faulty part.
        """
        if len(text) > MAX_ADDRESS_LENGTH:
            raise InvalidAddress("address is too long")
        if not text.startswith(ADDRESS_SCHEME):
            raise InvalidAddress(f"address must start with {ADDRESS_SCHEME!r}")
        fingerprint, separator, location = text[len(ADDRESS_SCHEME) :].partition("@")
        if not separator:
            raise InvalidAddress("address needs '<fingerprint>@' before the hosts")
        host_list, port = _split_port(location)
        hosts = tuple(normalise_host(_unbracket(host)) for host in host_list.split(","))
        return cls(fingerprint, hosts, port)

    def __str__(self) -> str:
        hosts = ",".join(f"[{host}]" if ":" in host else host for host in self.hosts)
        port = "" if self.port == DEFAULT_PORT else f":{self.port}"
        return f"{ADDRESS_SCHEME}{self.fingerprint}@{hosts}{port}"


def _split_port(location: str) -> tuple[str, int]:
    """Split ``hosts[:port]``; a colon inside brackets belongs to an IPv6 host."""
    closing = location.rfind("]")
    colon = location.rfind(":")
    if colon <= closing:
        return location, DEFAULT_PORT
    digits = location[colon + 1 :]
    if not _PORT_DIGITS.fullmatch(digits) or digits.startswith("0"):
        raise InvalidAddress(f"bad port {digits!r}")
    return location[:colon], int(digits)


def _unbracket(host: str) -> str:
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        if ":" not in inner:
            raise InvalidAddress("only IPv6 literals are written in brackets")
        return inner
    if "[" in host or "]" in host or ":" in host:
        raise InvalidAddress(f"bad host {host!r}: IPv6 literals go in brackets")
    return host


def normalise_host(host: str) -> str:
    """Return the canonical spelling of one host (no brackets), or raise :class:`InvalidAddress`.

    DNS names (including ``.onion`` names) come back in lower case and IP
    literals in their compressed form.
    """
    if not host:
        raise InvalidAddress("empty host name")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    if ":" in host:
        raise InvalidAddress(f"bad IPv6 literal {host!r}")
    name = host.lower()
    labels = name.split(".")
    if len(name) > _MAX_HOSTNAME_LENGTH or not all(_HOST_LABEL.fullmatch(x) for x in labels):
        raise InvalidAddress(f"bad host name {host!r}")
    if labels[-1].isdigit():
        # "1.2.3" or "999.1.1.1" would be read as IPv4 by some resolvers.
        raise InvalidAddress(f"bad host name {host!r}: numeric top-level label")
    return name
