"""Invitation links and contact-address links, as text a user can paste or scan.

A link names one or more queues the link's owner receives on, with the keys a
stranger needs to reach them, plus version ranges. Two kinds exist:

* a one-time **invitation** also carries the owner's ratchet invitation (opaque
  here; the ratchet layer owns its format) and is used by exactly one joiner;
* a long-lived **contact address** carries no ratchet keys: each stranger sends a
  request through it and gets a fresh one-time connection if the owner accepts.

Both have two textual forms with the same binary payload, base64url (unpadded) in
the fragment so the https form never sends it to a web server::

    veil://invitation#<data>     https://veil.link/invitation#<data>
    veil://contact#<data>        https://veil.link/contact#<data>

The payload layout is in ``docs/protocol/agent.md``. Decoding is strict: caps on
every field, canonical base64url, the kind in the path must match the kind in the
payload, no trailing bytes; every fault is a :class:`MalformedLink`.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, TypeAlias

import segno

from veil.agent.errors import MalformedLink
from veil.crypto import constant_time_equal, sha256
from veil.crypto.primitives import MLKEM768_PUBLIC_KEY_SIZE
from veil.errors import ProtocolError
from veil.relay.protocol.address import MAX_ADDRESS_LENGTH, RelayAddress
from veil.wire import Reader, VersionRange, Writer

__all__ = [
    "CHECKSUM_SIZE",
    "HTTPS_LINK_PREFIX",
    "LINK_FORMAT_VERSION",
    "LINK_KEY_SIZE",
    "MAX_LINK_LENGTH",
    "MAX_LINK_QUEUES",
    "MAX_RATCHET_INVITATION_SIZE",
    "SENDER_ID_SIZE",
    "VEIL_LINK_PREFIX",
    "ContactAddressLink",
    "InvitationLink",
    "Link",
    "LinkKind",
    "LinkQueue",
    "decode_base64url",
    "decode_link",
    "encode_link",
    "link_checksum",
    "render_qr",
    "strip_checksum",
]

LINK_FORMAT_VERSION = 2
"""Version 2 ends with a checksum; version 1 links (no checksum) still decode."""
_LINK_FORMAT_V1 = 1
CHECKSUM_SIZE = 4
SENDER_ID_SIZE = 24
LINK_KEY_SIZE = 32
MAX_LINK_QUEUES = 4
MAX_RATCHET_INVITATION_SIZE = 4096
MAX_LINK_LENGTH = 12_000
VEIL_LINK_PREFIX = "veil://"
HTTPS_LINK_PREFIX = "https://veil.link/"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class LinkKind(IntEnum):
    """What a link is for; also its path segment in text form."""

    INVITATION = 1
    CONTACT = 2

    @property
    def path(self) -> str:
        """The path segment naming this kind (``invitation`` or ``contact``)."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class LinkQueue:
    """One queue a link points at.

    ``relay`` is the relay's canonical address text, ``sender_id`` the queue's sender
    id, and ``link_key`` the owner's X25519 public key for this queue, to which a
    joiner seals its first message (the confirmation or the contact request).
    """

    relay: str
    sender_id: bytes
    link_key: bytes

    def __post_init__(self) -> None:
        if str(RelayAddress.parse(self.relay)) != self.relay:
            raise ValueError(f"relay address is not canonical: {self.relay!r}")
        if len(self.sender_id) != SENDER_ID_SIZE:
            raise ValueError(f"a sender id is {SENDER_ID_SIZE} bytes")
        if len(self.link_key) != LINK_KEY_SIZE:
            raise ValueError(f"a link key is {LINK_KEY_SIZE} bytes")

    def encode(self, writer: Writer) -> None:
        """Append relay address, sender id and link key."""
        writer.bytes16(self.relay.encode("ascii")).raw(self.sender_id).raw(self.link_key)

    @classmethod
    def decode(cls, reader: Reader) -> LinkQueue:
        """Read a queue written by :meth:`encode`."""
        relay = reader.bytes16(cap=MAX_ADDRESS_LENGTH)
        if not relay.isascii():
            raise MalformedLink("relay address must be ASCII")
        return cls(relay.decode("ascii"), reader.raw(SENDER_ID_SIZE), reader.raw(LINK_KEY_SIZE))


def _check_queues(queues: tuple[LinkQueue, ...]) -> None:
    if not 1 <= len(queues) <= MAX_LINK_QUEUES:
        raise ValueError(f"a link names 1..{MAX_LINK_QUEUES} queues")


@dataclass(frozen=True, slots=True)
class InvitationLink:
    """A one-time invitation: queues, version ranges and the ratchet invitation."""

    queues: tuple[LinkQueue, ...]
    agent_versions: VersionRange
    ratchet_versions: VersionRange
    ratchet_invitation: bytes

    KIND: ClassVar[LinkKind] = LinkKind.INVITATION

    def __post_init__(self) -> None:
        _check_queues(self.queues)
        if not 1 <= len(self.ratchet_invitation) <= MAX_RATCHET_INVITATION_SIZE:
            raise ValueError(f"a ratchet invitation is 1..{MAX_RATCHET_INVITATION_SIZE} bytes")

    def encode_fields(self, writer: Writer) -> None:
        """Append the fields after the kind byte."""
        self.agent_versions.encode(writer)
        self.ratchet_versions.encode(writer)
        _encode_queues(writer, self.queues)
        writer.bytes16(self.ratchet_invitation)

    @classmethod
    def decode_fields(cls, reader: Reader) -> InvitationLink:
        """Read the fields written by :meth:`encode_fields`."""
        agent_versions = VersionRange.decode(reader)
        ratchet_versions = VersionRange.decode(reader)
        queues = _decode_queues(reader)
        invitation = reader.bytes16(cap=MAX_RATCHET_INVITATION_SIZE)
        return cls(queues, agent_versions, ratchet_versions, invitation)


@dataclass(frozen=True, slots=True)
class ContactAddressLink:
    """A long-lived contact address: queues for contact requests and the agent versions."""

    queues: tuple[LinkQueue, ...]
    agent_versions: VersionRange
    kem_public: bytes | None = None
    """The owner's ML-KEM-768 key, to which requests are sealed too (format 2)."""

    KIND: ClassVar[LinkKind] = LinkKind.CONTACT

    def __post_init__(self) -> None:
        _check_queues(self.queues)
        if self.kem_public is not None and len(self.kem_public) != MLKEM768_PUBLIC_KEY_SIZE:
            raise ValueError(f"an ML-KEM-768 key is {MLKEM768_PUBLIC_KEY_SIZE} bytes")

    def encode_fields(self, writer: Writer) -> None:
        """Append the fields after the kind byte."""
        self.agent_versions.encode(writer)
        _encode_queues(writer, self.queues)
        writer.bytes16(self.kem_public or b"")

    @classmethod
    def decode_fields(cls, reader: Reader) -> ContactAddressLink:
        """Read the fields written by :meth:`encode_fields` (format 1 links end
        after the queues)."""
        agent_versions = VersionRange.decode(reader)
        queues = _decode_queues(reader)
        kem = reader.bytes16(cap=MLKEM768_PUBLIC_KEY_SIZE) if reader.remaining else b""
        return cls(queues, agent_versions, kem or None)


Link: TypeAlias = InvitationLink | ContactAddressLink


def _encode_queues(writer: Writer, queues: tuple[LinkQueue, ...]) -> None:
    writer.u8(len(queues))
    for queue in queues:
        queue.encode(writer)


def _decode_queues(reader: Reader) -> tuple[LinkQueue, ...]:
    count = reader.u8()
    if not 1 <= count <= MAX_LINK_QUEUES:
        raise MalformedLink(f"a link names 1..{MAX_LINK_QUEUES} queues, not {count}")
    return tuple(LinkQueue.decode(reader) for _ in range(count))


def encode_link(link: Link, *, https: bool = False) -> str:
    """The link as ``veil://<kind>#<data>``, or ``https://veil.link/<kind>#<data>``."""
    writer = Writer().u8(LINK_FORMAT_VERSION).u8(link.KIND)
    link.encode_fields(writer)
    payload = writer.build()
    payload += link_checksum(payload)
    data = base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")
    prefix = HTTPS_LINK_PREFIX if https else VEIL_LINK_PREFIX
    return f"{prefix}{link.KIND.path}#{data}"


def decode_link(text: str) -> Link:
    """Parse either text form of a link; :class:`MalformedLink` on any fault."""
    text = text.strip()
    if len(text) > MAX_LINK_LENGTH:
        raise MalformedLink(f"link is {len(text)} characters, over {MAX_LINK_LENGTH}")
    kind, data = _split_link(text)
    data = _verified(data)
    reader = Reader(data)
    try:
        reader.u8()  # the version, checked by _verified
        if reader.u8() != kind:
            raise MalformedLink(f"the link's data is not a {kind.path} link: copy it again")
        link: Link = (
            InvitationLink if kind is LinkKind.INVITATION else ContactAddressLink
        ).decode_fields(reader)
        reader.finish()
    except MalformedLink:
        raise
    except (ProtocolError, ValueError) as exc:  # wire faults, a bad relay address, field checks
        raise MalformedLink(f"the link is damaged ({exc}): copy the whole link again") from exc
    return link


def link_checksum(payload: bytes) -> bytes:
    """The checksum that ends a format 2 link payload (and a short link's)."""
    return sha256(payload)[:CHECKSUM_SIZE]


def _verified(data: bytes) -> bytes:
    """The payload without its checksum; a version 1 payload has none."""
    if not data:
        raise MalformedLink("the link has no data after '#': copy the whole link again")
    if data[0] == _LINK_FORMAT_V1:
        return data
    if data[0] != LINK_FORMAT_VERSION:
        raise MalformedLink(
            f"the link uses format {data[0]}, which this Veil does not know: update Veil"
        )
    return strip_checksum(data)


def strip_checksum(data: bytes) -> bytes:
    """``data`` without the checksum that ends it; :class:`MalformedLink` if it does
    not match."""
    payload, checksum = data[:-CHECKSUM_SIZE], data[-CHECKSUM_SIZE:]
    if len(data) <= CHECKSUM_SIZE or not constant_time_equal(link_checksum(payload), checksum):
        raise MalformedLink(
            "the link is damaged or incomplete (its checksum does not match): "
            "copy the whole link again"
        )
    return payload


def _split_link(text: str) -> tuple[LinkKind, bytes]:
    for prefix in (VEIL_LINK_PREFIX, HTTPS_LINK_PREFIX):
        if text.startswith(prefix):
            path, separator, encoded = text[len(prefix) :].partition("#")
            break
    else:
        raise MalformedLink(
            "this is not a Veil link: links look like veil://invitation#... or "
            "veil://contact#... (or the same after https://veil.link/)"
        )
    kinds = {kind.path: kind for kind in LinkKind}
    if not separator or path not in kinds:
        raise MalformedLink(
            f"{path!r} is not a kind of Veil link: links look like veil://invitation#... "
            "or veil://contact#..."
        )
    return kinds[path], decode_base64url(encoded)


def decode_base64url(encoded: str) -> bytes:
    """Strictly decode a link's unpadded base64url data; :class:`MalformedLink` if bad."""
    damaged = MalformedLink(
        "the link is damaged: it has characters a link never has, or some are missing; "
        "copy the whole link again"
    )
    if not _BASE64URL.fullmatch(encoded) or len(encoded) % 4 == 1:
        raise damaged
    try:
        data = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except binascii.Error as exc:
        raise damaged from exc
    # Unused low bits in the last character must be zero: one text per payload.
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != encoded:
        raise damaged
    return data


def render_qr(link: str) -> str:
    """The link as a QR code drawn with half-block characters, for ``veil invite --qr``."""
    code = segno.make(link, error="l", micro=False)
    out = io.StringIO()
    code.terminal(out=out, compact=True)
    return out.getvalue()
