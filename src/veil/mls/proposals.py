"""Proposals, commits and update paths (RFC 9420 §12.1, §12.4, §7.6)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from veil.mls.codec import TlsReader, TlsWriter, encoded_once
from veil.mls.errors import MLSDecodeError
from veil.mls.group_context import (
    Extension,
    decode_extension,
    decode_protocol_version,
    encode_extension,
)
from veil.mls.key_schedule import PreSharedKeyID
from veil.mls.leaf_node import MAX_KEY, KeyPackage, LeafNode

__all__ = [
    "Add",
    "Commit",
    "ExternalInit",
    "GroupContextExtensions",
    "HPKECiphertext",
    "PreSharedKey",
    "Proposal",
    "ProposalOrRef",
    "ReInit",
    "Remove",
    "Update",
    "UpdatePath",
    "UpdatePathNode",
    "decode_proposal",
    "decode_reinit",
    "encode_proposal",
    "proposal_type",
]

MAX_CIPHERTEXT = 1 << 16
MAX_REFERENCE = 64


@dataclass(frozen=True, slots=True)
class HPKECiphertext:
    """``struct { opaque kem_output<V>; opaque ciphertext<V>; }``."""

    kem_output: bytes
    ciphertext: bytes

    def encode(self, writer: TlsWriter) -> None:
        """Append the HPKECiphertext."""
        writer.opaque(self.kem_output).opaque(self.ciphertext)

    @classmethod
    def decode(cls, reader: TlsReader) -> HPKECiphertext:
        """Read an HPKECiphertext."""
        return cls(reader.opaque(MAX_KEY), reader.opaque(MAX_CIPHERTEXT))


@dataclass(frozen=True, slots=True)
class Add:
    """Add the holder of ``key_package``."""

    key_package: KeyPackage


@dataclass(frozen=True, slots=True)
class Update:
    """Replace the sender's own leaf."""

    leaf_node: LeafNode


@dataclass(frozen=True, slots=True)
class Remove:
    """Remove the member at leaf ``removed``."""

    removed: int


@dataclass(frozen=True, slots=True)
class PreSharedKey:
    """Inject a PSK into the next epoch's key schedule."""

    psk: PreSharedKeyID


@dataclass(frozen=True, slots=True)
class ReInit:
    """End the group, to be restarted with new parameters."""

    group_id: bytes
    cipher_suite: int
    extensions: tuple[Extension, ...] = ()


@dataclass(frozen=True, slots=True)
class ExternalInit:
    """An external joiner's HPKE encapsulation to the group's external key."""

    kem_output: bytes


@dataclass(frozen=True, slots=True)
class GroupContextExtensions:
    """Replace the group's extensions."""

    extensions: tuple[Extension, ...]


Proposal = Add | Update | Remove | PreSharedKey | ReInit | ExternalInit | GroupContextExtensions

_TYPES: dict[type, int] = {
    Add: 1,
    Update: 2,
    Remove: 3,
    PreSharedKey: 4,
    ReInit: 5,
    ExternalInit: 6,
    GroupContextExtensions: 7,
}


def proposal_type(proposal: Proposal) -> int:
    """The ProposalType codepoint of a proposal."""
    return _TYPES[type(proposal)]


def encode_proposal(writer: TlsWriter, proposal: Proposal) -> None:
    """Append a Proposal."""
    writer.u16(proposal_type(proposal))
    match proposal:
        case Add(key_package):
            key_package.encode(writer)
        case Update(leaf_node):
            leaf_node.encode(writer)
        case Remove(removed):
            writer.u32(removed)
        case PreSharedKey(psk):
            psk.encode(writer)
        case ReInit(group_id, cipher_suite, extensions):
            writer.opaque(group_id).u16(1).u16(cipher_suite)
            writer.vector(extensions, encode_extension)
        case ExternalInit(kem_output):
            writer.opaque(kem_output)
        case GroupContextExtensions(extensions):
            writer.vector(extensions, encode_extension)


def decode_reinit(reader: TlsReader) -> ReInit:
    """Read the body of a ReInit proposal."""
    group_id = reader.opaque(MAX_REFERENCE * 4)
    decode_protocol_version(reader)
    return ReInit(group_id, reader.u16(), tuple(reader.vector(decode_extension)))


_DECODERS: dict[int, Callable[[TlsReader], Proposal]] = {
    1: lambda r: Add(KeyPackage.decode(r)),
    2: lambda r: Update(LeafNode.decode(r)),
    3: lambda r: Remove(r.u32()),
    4: lambda r: PreSharedKey(PreSharedKeyID.decode(r)),
    5: decode_reinit,
    6: lambda r: ExternalInit(r.opaque(MAX_KEY)),
    7: lambda r: GroupContextExtensions(tuple(r.vector(decode_extension))),
}


def decode_proposal(reader: TlsReader) -> Proposal:
    """Read a Proposal of a known type."""
    kind = reader.u16()
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise MLSDecodeError(f"unknown proposal type {kind}")
    return decoder(reader)


@dataclass(frozen=True, slots=True)
class ProposalOrRef:
    """A commit's proposal: carried by value, or named by its ProposalRef."""

    proposal: Proposal | None = None
    reference: bytes = b""

    def encode(self, writer: TlsWriter) -> None:
        """Append the ProposalOrRef."""
        if self.proposal is not None:
            encode_proposal(writer.u8(1), self.proposal)
        else:
            writer.u8(2).opaque(self.reference)

    @classmethod
    def decode(cls, reader: TlsReader) -> ProposalOrRef:
        """Read a ProposalOrRef."""
        kind = reader.u8()
        if kind == 1:
            return cls(proposal=decode_proposal(reader))
        if kind == 2:
            return cls(reference=reader.opaque(MAX_REFERENCE))
        raise MLSDecodeError(f"unknown ProposalOrRef type {kind}")


@dataclass(frozen=True, slots=True)
class UpdatePathNode:
    """One step of an update path: the new public key and its encrypted path secrets."""

    encryption_key: bytes
    encrypted_path_secret: tuple[HPKECiphertext, ...]

    def encode(self, writer: TlsWriter) -> None:
        """Append the UpdatePathNode."""
        writer.opaque(self.encryption_key)
        writer.vector(self.encrypted_path_secret, lambda w, c: c.encode(w))

    @classmethod
    def decode(cls, reader: TlsReader) -> UpdatePathNode:
        """Read an UpdatePathNode."""
        key = reader.opaque(MAX_KEY)
        return cls(key, tuple(reader.vector(HPKECiphertext.decode)))


@dataclass(frozen=True, slots=True)
class UpdatePath:
    """The committer's new leaf and path (RFC 9420 §7.6)."""

    leaf_node: LeafNode
    nodes: tuple[UpdatePathNode, ...]
    # The encoding, made once: a path sealed to a blank tree's O(n) leaves is encoded for
    # the signature, the membership tag and the transcript hash of its commit.
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def encode(self, writer: TlsWriter) -> None:
        """Append the UpdatePath."""
        writer.raw(encoded_once(self, "_encoded", self._build))

    def _build(self) -> bytes:
        writer = TlsWriter()
        self.leaf_node.encode(writer)
        return writer.vector(self.nodes, lambda w, n: n.encode(w)).build()

    @classmethod
    def decode(cls, reader: TlsReader) -> UpdatePath:
        """Read an UpdatePath."""
        return cls(LeafNode.decode(reader), tuple(reader.vector(UpdatePathNode.decode)))


@dataclass(frozen=True, slots=True)
class Commit:
    """``struct { ProposalOrRef proposals<V>; optional<UpdatePath> path; }``."""

    proposals: tuple[ProposalOrRef, ...]
    path: UpdatePath | None = None

    def encode(self, writer: TlsWriter) -> None:
        """Append the Commit."""
        writer.vector(self.proposals, lambda w, p: p.encode(w))
        writer.optional(self.path, lambda w, p: p.encode(w))

    @classmethod
    def decode(cls, reader: TlsReader) -> Commit:
        """Read a Commit."""
        proposals = tuple(reader.vector(ProposalOrRef.decode))
        return cls(proposals, reader.optional(UpdatePath.decode))
