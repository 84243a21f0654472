"""Message framing structures (RFC 9420 §6): senders, content, and the MLSMessage wrapper.

Protection (signatures, membership tags, PrivateMessage encryption) lives in
:mod:`veil.mls.protection`; this module only encodes and decodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from veil.mls.codec import TlsReader, TlsWriter, to_bytes
from veil.mls.errors import MLSDecodeError, WrongContentType
from veil.mls.group_context import MAX_GROUP_ID, MLS10, GroupContext, decode_protocol_version
from veil.mls.leaf_node import MAX_SIGNATURE, KeyPackage
from veil.mls.proposals import Commit, Proposal, decode_proposal, encode_proposal
from veil.mls.welcome import GroupInfo, Welcome

__all__ = [
    "APPLICATION",
    "COMMIT",
    "PROPOSAL",
    "WIRE_PRIVATE",
    "WIRE_PUBLIC",
    "AuthenticatedContent",
    "Content",
    "FramedContent",
    "MLSMessage",
    "PrivateMessage",
    "PublicMessage",
    "Sender",
]

APPLICATION, PROPOSAL, COMMIT = 1, 2, 3
WIRE_PUBLIC, WIRE_PRIVATE, WIRE_WELCOME, WIRE_GROUP_INFO, WIRE_KEY_PACKAGE = 1, 2, 3, 4, 5
SENDER_MEMBER, SENDER_EXTERNAL, SENDER_NEW_MEMBER_PROPOSAL, SENDER_NEW_MEMBER_COMMIT = 1, 2, 3, 4

MAX_TAG = 64
MAX_CONTENT = 1 << 26

Content = bytes | Proposal | Commit
"""Application data (bytes), a Proposal, or a Commit."""


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a message: a member's leaf, an external sender, or a new member."""

    sender_type: int
    index: int = 0

    def encode(self, writer: TlsWriter) -> None:
        """Append the Sender."""
        writer.u8(self.sender_type)
        if self.sender_type in (SENDER_MEMBER, SENDER_EXTERNAL):
            writer.u32(self.index)

    @classmethod
    def decode(cls, reader: TlsReader) -> Sender:
        """Read a Sender of a known type."""
        sender_type = reader.u8()
        if sender_type in (SENDER_MEMBER, SENDER_EXTERNAL):
            return cls(sender_type, reader.u32())
        if sender_type in (SENDER_NEW_MEMBER_PROPOSAL, SENDER_NEW_MEMBER_COMMIT):
            return cls(sender_type)
        raise MLSDecodeError(f"unknown sender type {sender_type}")


def content_type_of(content: Content) -> int:
    """The ContentType of a content body."""
    if isinstance(content, bytes):
        return APPLICATION
    return COMMIT if isinstance(content, Commit) else PROPOSAL


def encode_content(writer: TlsWriter, content: Content) -> None:
    """Append a content body (without its type byte)."""
    if isinstance(content, bytes):
        writer.opaque(content)
    elif isinstance(content, Commit):
        content.encode(writer)
    else:
        encode_proposal(writer, content)


def decode_content(reader: TlsReader, content_type: int) -> Content:
    """Read a content body of the given type."""
    if content_type == APPLICATION:
        return reader.opaque(MAX_CONTENT)
    if content_type == PROPOSAL:
        return decode_proposal(reader)
    if content_type == COMMIT:
        return Commit.decode(reader)
    raise MLSDecodeError(f"unknown content type {content_type}")


@dataclass(frozen=True, slots=True)
class FramedContent:
    """The content of a message with its group, epoch and sender."""

    group_id: bytes
    epoch: int
    sender: Sender
    authenticated_data: bytes
    content: Content
    wire: bytes = field(default=b"", compare=False, repr=False)
    """The bytes this was decoded from (the codec is canonical, so they equal the
    encoding): a large commit is signed, MACed and hashed without re-encoding it.
    Never set by hand and never carried over by ``dataclasses.replace``."""

    @property
    def content_type(self) -> int:
        """The ContentType of the body."""
        return content_type_of(self.content)

    def encode(self, writer: TlsWriter) -> None:
        """Append the FramedContent."""
        if self.wire:
            writer.raw(self.wire)
            return
        writer.opaque(self.group_id).u64(self.epoch)
        self.sender.encode(writer)
        writer.opaque(self.authenticated_data).u8(self.content_type)
        encode_content(writer, self.content)

    @classmethod
    def decode(cls, reader: TlsReader) -> FramedContent:
        """Read a FramedContent."""
        start = reader.offset
        group_id, epoch = reader.opaque(MAX_GROUP_ID), reader.u64()
        sender = Sender.decode(reader)
        authenticated_data = reader.opaque(MAX_CONTENT)
        content = decode_content(reader, reader.u8())
        wire = reader.read_since(start)
        return cls(group_id, epoch, sender, authenticated_data, content, wire)

    def to_be_signed(self, wire_format: int, context: GroupContext | None) -> bytes:
        """FramedContentTBS; members and new-member committers bind the GroupContext."""
        writer = TlsWriter().u16(MLS10).u16(wire_format)
        self.encode(writer)
        if self.sender.sender_type in (SENDER_MEMBER, SENDER_NEW_MEMBER_COMMIT):
            if context is None:
                raise ValueError("a member's content is signed with the GroupContext")
            context.encode(writer)
        return writer.build()


def encode_auth(writer: TlsWriter, content_type: int, signature: bytes, tag: bytes | None) -> None:
    """Append FramedContentAuthData: the signature, and the confirmation tag of a commit."""
    writer.opaque(signature)
    if content_type == COMMIT:
        if tag is None:
            raise ValueError("a commit carries a confirmation tag")
        writer.opaque(tag)


def decode_auth(reader: TlsReader, content_type: int) -> tuple[bytes, bytes | None]:
    """Read FramedContentAuthData -> ``(signature, confirmation_tag or None)``."""
    signature = reader.opaque(MAX_SIGNATURE)
    return signature, reader.opaque(MAX_TAG) if content_type == COMMIT else None


@dataclass(frozen=True, slots=True)
class AuthenticatedContent:
    """A FramedContent with its wire format, signature and (for commits) confirmation tag."""

    wire_format: int
    content: FramedContent
    signature: bytes
    confirmation_tag: bytes | None = None

    def encode(self, writer: TlsWriter) -> None:
        """Append the AuthenticatedContent."""
        writer.u16(self.wire_format)
        self.content.encode(writer)
        encode_auth(writer, self.content.content_type, self.signature, self.confirmation_tag)

    @classmethod
    def decode(cls, reader: TlsReader) -> AuthenticatedContent:
        """Read an AuthenticatedContent."""
        wire_format = reader.u16()
        content = FramedContent.decode(reader)
        signature, tag = decode_auth(reader, content.content_type)
        return cls(wire_format, content, signature, tag)

    def confirmed_transcript_input(self) -> bytes:
        """ConfirmedTranscriptHashInput: wire format, content and signature (RFC 9420 §8.2)."""
        if self.content.content_type != COMMIT:
            raise WrongContentType("only a commit enters the transcript")
        writer = TlsWriter().u16(self.wire_format)
        self.content.encode(writer)
        return writer.opaque(self.signature).build()


@dataclass(frozen=True, slots=True)
class PublicMessage:
    """A signed, unencrypted message; members' messages carry a membership tag."""

    content: FramedContent
    signature: bytes
    confirmation_tag: bytes | None = None
    membership_tag: bytes | None = None

    def encode(self, writer: TlsWriter) -> None:
        """Append the PublicMessage."""
        self.content.encode(writer)
        encode_auth(writer, self.content.content_type, self.signature, self.confirmation_tag)
        if self.content.sender.sender_type == SENDER_MEMBER:
            writer.opaque(self.membership_tag or b"")

    @classmethod
    def decode(cls, reader: TlsReader) -> PublicMessage:
        """Read a PublicMessage."""
        content = FramedContent.decode(reader)
        signature, tag = decode_auth(reader, content.content_type)
        membership_tag = None
        if content.sender.sender_type == SENDER_MEMBER:
            membership_tag = reader.opaque(MAX_TAG)
        return cls(content, signature, tag, membership_tag)

    def authenticated_content(self) -> AuthenticatedContent:
        """The AuthenticatedContent this message carries."""
        return AuthenticatedContent(
            WIRE_PUBLIC, self.content, self.signature, self.confirmation_tag
        )


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """An encrypted message: only group, epoch and content type are visible."""

    group_id: bytes
    epoch: int
    content_type: int
    authenticated_data: bytes
    encrypted_sender_data: bytes
    ciphertext: bytes

    def encode(self, writer: TlsWriter) -> None:
        """Append the PrivateMessage."""
        writer.opaque(self.group_id).u64(self.epoch).u8(self.content_type)
        writer.opaque(self.authenticated_data).opaque(self.encrypted_sender_data)
        writer.opaque(self.ciphertext)

    @classmethod
    def decode(cls, reader: TlsReader) -> PrivateMessage:
        """Read a PrivateMessage."""
        group_id, epoch, content_type = reader.opaque(MAX_GROUP_ID), reader.u64(), reader.u8()
        if content_type not in (APPLICATION, PROPOSAL, COMMIT):
            raise MLSDecodeError(f"unknown content type {content_type}")
        return cls(
            group_id,
            epoch,
            content_type,
            reader.opaque(MAX_CONTENT),
            reader.opaque(MAX_TAG),
            reader.opaque(MAX_CONTENT),
        )


Body = PublicMessage | PrivateMessage | Welcome | GroupInfo | KeyPackage

_WIRE_FORMATS: dict[type, int] = {
    PublicMessage: WIRE_PUBLIC,
    PrivateMessage: WIRE_PRIVATE,
    Welcome: WIRE_WELCOME,
    GroupInfo: WIRE_GROUP_INFO,
    KeyPackage: WIRE_KEY_PACKAGE,
}
_DECODERS = {wire: body for body, wire in _WIRE_FORMATS.items()}


@dataclass(frozen=True, slots=True)
class MLSMessage:
    """The outer wrapper every MLS message travels in."""

    body: Body

    @property
    def wire_format(self) -> int:
        """The WireFormat of the body."""
        return _WIRE_FORMATS[type(self.body)]

    def encode(self, writer: TlsWriter) -> None:
        """Append the MLSMessage."""
        writer.u16(MLS10).u16(self.wire_format)
        self.body.encode(writer)

    def to_bytes(self) -> bytes:
        """The serialised MLSMessage."""
        return to_bytes(self)

    @classmethod
    def decode(cls, reader: TlsReader) -> MLSMessage:
        """Read an MLSMessage of a known wire format."""
        decode_protocol_version(reader)
        wire_format = reader.u16()
        body_type = _DECODERS.get(wire_format)
        if body_type is None:
            raise MLSDecodeError(f"unknown wire format {wire_format}")
        body: Body = body_type.decode(reader)  # type: ignore[attr-defined]
        return cls(body)
