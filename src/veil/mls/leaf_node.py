"""Credentials, capabilities, leaf nodes and key packages (RFC 9420 §5.3, §7.2, §10).

Only the structures and their signatures live here; the rules that decide whether a
leaf node may join a given group belong to tree validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from veil.mls.codec import TlsReader, TlsWriter, encoded_once, to_bytes
from veil.mls.errors import MLSDecodeError
from veil.mls.group_context import (
    MLS10,
    Extension,
    decode_extension,
    decode_protocol_version,
    encode_extension,
)
from veil.mls.suites import CipherSuite

__all__ = [
    "CREDENTIAL_BASIC",
    "CREDENTIAL_X509",
    "SOURCE_COMMIT",
    "SOURCE_KEY_PACKAGE",
    "SOURCE_UPDATE",
    "Capabilities",
    "Credential",
    "KeyPackage",
    "LeafNode",
    "Lifetime",
]

CREDENTIAL_BASIC = 1
CREDENTIAL_X509 = 2
SOURCE_KEY_PACKAGE = 1
SOURCE_UPDATE = 2
SOURCE_COMMIT = 3

MAX_KEY = 4096
MAX_SIGNATURE = 4096
MAX_IDENTITY = 4096
MAX_CERTIFICATES = 1 << 20
MAX_LIST = 4096


@dataclass(frozen=True, slots=True)
class Credential:
    """A member's credential: ``basic`` carries an identity, ``x509`` a certificate chain."""

    credential_type: int
    identity: bytes = b""
    certificates: tuple[bytes, ...] = ()

    def encode(self, writer: TlsWriter) -> None:
        """Append the Credential."""
        writer.u16(self.credential_type)
        if self.credential_type == CREDENTIAL_X509:
            writer.vector(self.certificates, TlsWriter.opaque)
        else:
            writer.opaque(self.identity)

    @classmethod
    def decode(cls, reader: TlsReader) -> Credential:
        """Read a Credential of a known type."""
        credential_type = reader.u16()
        if credential_type == CREDENTIAL_BASIC:
            return cls(credential_type, identity=reader.opaque(MAX_IDENTITY))
        if credential_type == CREDENTIAL_X509:
            certificates = reader.vector(lambda r: r.opaque(MAX_CERTIFICATES), MAX_CERTIFICATES)
            return cls(credential_type, certificates=tuple(certificates))
        raise MLSDecodeError(f"unknown credential type {credential_type}")


def _u16_list(reader: TlsReader) -> tuple[int, ...]:
    return tuple(reader.vector(TlsReader.u16, MAX_LIST))


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a client supports; empty lists mean only the defaults (RFC 9420 §7.2)."""

    versions: tuple[int, ...] = (MLS10,)
    cipher_suites: tuple[int, ...] = ()
    extensions: tuple[int, ...] = ()
    proposals: tuple[int, ...] = ()
    credentials: tuple[int, ...] = (CREDENTIAL_BASIC,)

    def encode(self, writer: TlsWriter) -> None:
        """Append the Capabilities."""
        for values in (
            self.versions,
            self.cipher_suites,
            self.extensions,
            self.proposals,
            self.credentials,
        ):
            writer.vector(values, TlsWriter.u16)

    @classmethod
    def decode(cls, reader: TlsReader) -> Capabilities:
        """Read Capabilities."""
        return cls(*(_u16_list(reader) for _ in range(5)))


@dataclass(frozen=True, slots=True)
class Lifetime:
    """The validity window of a key package's leaf, in seconds since the Unix epoch."""

    not_before: int
    not_after: int


@dataclass(frozen=True, slots=True)
class LeafNode:
    """A member's leaf: keys, credential, capabilities, and a signature over them."""

    encryption_key: bytes
    signature_key: bytes
    credential: Credential
    capabilities: Capabilities
    leaf_node_source: int
    lifetime: Lifetime | None = None
    parent_hash: bytes = b""
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""
    # The encoded content, made once: a leaf is encoded for its signature, the tree hash,
    # every message that carries it and the serialised tree (O(n) leaves at creation).
    _content: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def _encode_content(self, writer: TlsWriter) -> None:
        writer.raw(encoded_once(self, "_content", self._build_content))

    def _build_content(self) -> bytes:
        writer = TlsWriter().opaque(self.encryption_key).opaque(self.signature_key)
        self.credential.encode(writer)
        self.capabilities.encode(writer)
        writer.u8(self.leaf_node_source)
        if self.leaf_node_source == SOURCE_KEY_PACKAGE:
            lifetime = self.lifetime or Lifetime(0, 0)
            writer.u64(lifetime.not_before).u64(lifetime.not_after)
        elif self.leaf_node_source == SOURCE_COMMIT:
            writer.opaque(self.parent_hash)
        return writer.vector(self.extensions, encode_extension).build()

    def to_be_signed(self, group_id: bytes, leaf_index: int) -> bytes:
        """LeafNodeTBS; ``group_id`` and ``leaf_index`` count only for update/commit leaves."""
        writer = TlsWriter()
        self._encode_content(writer)
        if self.leaf_node_source in (SOURCE_UPDATE, SOURCE_COMMIT):
            writer.opaque(group_id).u32(leaf_index)
        return writer.build()

    def signed(self, suite: CipherSuite, key: bytes, group_id: bytes, leaf_index: int) -> LeafNode:
        """This leaf with a fresh signature by ``key``."""
        tbs = self.to_be_signed(group_id, leaf_index)
        return replace(self, signature=suite.sign_with_label(key, b"LeafNodeTBS", tbs))

    def verify(self, suite: CipherSuite, group_id: bytes, leaf_index: int) -> None:
        """Raise InvalidSignature unless the leaf is signed by its own signature key."""
        tbs = self.to_be_signed(group_id, leaf_index)
        suite.verify_with_label(self.signature_key, b"LeafNodeTBS", tbs, self.signature)

    def encode(self, writer: TlsWriter) -> None:
        """Append the LeafNode."""
        self._encode_content(writer)
        writer.opaque(self.signature)

    @classmethod
    def decode(cls, reader: TlsReader) -> LeafNode:
        """Read a LeafNode."""
        encryption_key, signature_key = reader.opaque(MAX_KEY), reader.opaque(MAX_KEY)
        credential = Credential.decode(reader)
        capabilities = Capabilities.decode(reader)
        source = reader.u8()
        lifetime, parent_hash = None, b""
        if source == SOURCE_KEY_PACKAGE:
            lifetime = Lifetime(reader.u64(), reader.u64())
        elif source == SOURCE_COMMIT:
            parent_hash = reader.opaque(MAX_KEY)
        elif source != SOURCE_UPDATE:
            raise MLSDecodeError(f"unknown leaf node source {source}")
        extensions = tuple(reader.vector(decode_extension))
        return cls(
            encryption_key,
            signature_key,
            credential,
            capabilities,
            source,
            lifetime,
            parent_hash,
            extensions,
            reader.opaque(MAX_SIGNATURE),
        )


@dataclass(frozen=True, slots=True)
class KeyPackage:
    """A prospective member's signed offer to be added to a group (RFC 9420 §10)."""

    cipher_suite: int
    init_key: bytes
    leaf_node: LeafNode
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""
    # KeyPackageTBS, made once: a package is encoded to verify it, in each encoding of
    # the commit that adds it, and for its reference.
    _tbs: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def to_be_signed(self) -> bytes:
        """KeyPackageTBS."""
        return encoded_once(self, "_tbs", self._build_tbs)

    def _build_tbs(self) -> bytes:
        writer = TlsWriter().u16(MLS10).u16(self.cipher_suite).opaque(self.init_key)
        self.leaf_node.encode(writer)
        return writer.vector(self.extensions, encode_extension).build()

    def signed(self, suite: CipherSuite, key: bytes) -> KeyPackage:
        """This key package with a fresh signature by ``key``."""
        signature = suite.sign_with_label(key, b"KeyPackageTBS", self.to_be_signed())
        return replace(self, signature=signature)

    def verify(self, suite: CipherSuite) -> None:
        """Raise InvalidSignature unless signed by its leaf's signature key."""
        suite.verify_with_label(
            self.leaf_node.signature_key, b"KeyPackageTBS", self.to_be_signed(), self.signature
        )

    def reference(self, suite: CipherSuite) -> bytes:
        """``KeyPackageRef``: ``RefHash("MLS 1.0 KeyPackage Reference", KeyPackage)``."""
        return suite.ref_hash(b"MLS 1.0 KeyPackage Reference", self.to_bytes())

    def encode(self, writer: TlsWriter) -> None:
        """Append the KeyPackage."""
        writer.raw(self.to_be_signed()).opaque(self.signature)

    def to_bytes(self) -> bytes:
        """The serialised KeyPackage."""
        return to_bytes(self)

    @classmethod
    def decode(cls, reader: TlsReader) -> KeyPackage:
        """Read a KeyPackage (any protocol version but mls10 is rejected)."""
        decode_protocol_version(reader)
        return cls(
            cipher_suite=reader.u16(),
            init_key=reader.opaque(MAX_KEY),
            leaf_node=LeafNode.decode(reader),
            extensions=tuple(reader.vector(decode_extension)),
            signature=reader.opaque(MAX_SIGNATURE),
        )
