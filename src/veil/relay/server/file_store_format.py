"""On-disk formats of the relay's file chunk store: index entries and body headers.

An index entry is found by ``lookup(id) = SHA-256(LOOKUP_LABEL || id)`` and holds its
fields sealed under a key derived from the id itself::

    entry_key = HKDF-SHA256(ikm = id, salt = "", info = ENTRY_KEY_INFO, L = 32)
    sealed    = nonce (12, random) || AES-256-GCM(entry_key, nonce, fields, ad = lookup || u8 role)

So the store holds no id in the clear, and an entry cannot be tied to its body (nor a
sender's entry to its recipients' entries) without knowing the ids, which only the
clients have. A body file starts with a header naming its size, digest and expiry::

    header = "VEILCHNK" || u8 version (1) || u64 expires || u32 size || raw(32) digest
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from veil.crypto.errors import AuthenticationFailed
from veil.crypto.primitives import aead_decrypt, aead_encrypt, hkdf_sha256, sha256
from veil.crypto.random import RandomSource
from veil.files.errors import ChunkCorrupted, FileStoreError
from veil.wire.codec import Reader, Writer
from veil.wire.errors import WireError

__all__ = [
    "BODY_HEADER_SIZE",
    "BodyHeader",
    "EntryFields",
    "EntryRole",
    "decode_body_header",
    "encode_body_header",
    "lookup_key",
    "open_entry",
    "seal_entry",
]

LOOKUP_LABEL = b"veil/relay/file-store/v1/lookup"
ENTRY_KEY_INFO = b"veil/relay/file-store/v1/entry-key"
BODY_MAGIC = b"VEILCHNK"
BODY_FORMAT_VERSION = 1
BODY_HEADER_SIZE = len(BODY_MAGIC) + 1 + 8 + 4 + 32
BODY_NAME_SIZE = 16
_NONCE_SIZE = 12


class EntryRole(IntEnum):
    """Whose id an index entry is keyed by."""

    SENDER = 1
    RECIPIENT = 2


@dataclass(frozen=True, slots=True)
class EntryFields:
    """What an entry hides: its body, the key that authorises its id, and (for a
    sender) the digest the body must have and how many recipient ids it was given."""

    body_name: str
    auth_key: bytes
    digest: bytes = b""
    recipients: int = 0


def lookup_key(entity_id: bytes) -> bytes:
    """The index key of an id: a hash, so the index holds no id in the clear."""
    return sha256(LOOKUP_LABEL + entity_id)


def _entry_key(entity_id: bytes) -> bytes:
    return hkdf_sha256(entity_id, salt=b"", info=ENTRY_KEY_INFO, length=32)


def seal_entry(entity_id: bytes, role: EntryRole, fields: EntryFields, rng: RandomSource) -> bytes:
    """Seal an entry's fields under a key only the id's holder can derive."""
    nonce = rng.random_bytes(_NONCE_SIZE)
    writer = Writer().bytes8(fields.body_name.encode("ascii")).raw(fields.auth_key)
    plain = writer.bytes8(fields.digest).u8(fields.recipients).build()
    ad = lookup_key(entity_id) + bytes([role])
    return nonce + aead_encrypt(_entry_key(entity_id), nonce, plain, ad)


def open_entry(entity_id: bytes, role: EntryRole, sealed: bytes) -> EntryFields:
    """Open an entry found under ``lookup_key(entity_id)``; :class:`FileStoreError` if damaged."""
    ad = lookup_key(entity_id) + bytes([role])
    try:
        plain = aead_decrypt(_entry_key(entity_id), sealed[:_NONCE_SIZE], sealed[_NONCE_SIZE:], ad)
        reader = Reader(plain)
        name = reader.bytes8(64).decode("ascii")
        auth_key = reader.raw(32)
        digest = reader.bytes8(32)
        recipients = reader.u8()
        reader.finish()
    except (AuthenticationFailed, WireError, UnicodeDecodeError) as exc:
        raise FileStoreError("a chunk index entry is damaged; the chunk is lost") from exc
    return EntryFields(name, auth_key, digest, recipients)


@dataclass(frozen=True, slots=True)
class BodyHeader:
    """The clear header of a stored body (nothing in it is secret)."""

    expires: int
    size: int
    digest: bytes


def encode_body_header(header: BodyHeader) -> bytes:
    """The :data:`BODY_HEADER_SIZE` bytes in front of a body."""
    writer = Writer().raw(BODY_MAGIC).u8(BODY_FORMAT_VERSION)
    return writer.u64(header.expires).u32(header.size).raw(header.digest).build()


def decode_body_header(data: bytes) -> BodyHeader:
    """Parse a body header; :class:`ChunkCorrupted` if it is not one."""
    try:
        reader = Reader(data)
        if reader.raw(len(BODY_MAGIC)) != BODY_MAGIC or reader.u8() != BODY_FORMAT_VERSION:
            raise ChunkCorrupted("not a chunk body of a known format")
        header = BodyHeader(reader.u64(), reader.u32(), reader.raw(32))
        reader.finish()
    except WireError as exc:
        raise ChunkCorrupted(f"chunk body header is damaged: {exc}") from exc
    return header
