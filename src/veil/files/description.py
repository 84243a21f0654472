"""File descriptions: where a file's chunks are and how to open them.

A description travels inside a chat message, end-to-end encrypted, to one recipient.
It names the file relays, and for each chunk the relay, this recipient's id and
download key on it, and the SHA-256 digest of the encrypted chunk; plus the file's
size, secret, name and MIME type. The codec is strict (``veil.wire.codec``): every
length is capped, every field checked, trailing bytes rejected; any fault is
:class:`MalformedDescription`.

A description that does not fit in a message (:data:`MAX_INLINE_DESCRIPTION`) is
itself uploaded as a file, and a small *redirect* description locating it is sent
instead. A redirect names the SHA-256 of the description it leads to, and leads to a
plain file description only (never to another redirect).
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto.primitives import constant_time_equal, sha256
from veil.files.errors import MalformedDescription
from veil.files.layout import MAX_CHUNKS, MAX_FILE_SIZE, ChunkLayout, plan_layout
from veil.files.stream import FILE_KEY_SIZE, NONCE_PREFIX_SIZE, FileSecret
from veil.files.text import check_file_name, check_mime_type, check_relay_address
from veil.wire.codec import Reader, Writer
from veil.wire.errors import WireError

__all__ = [
    "CHUNK_ID_SIZE",
    "DESCRIPTION_MIME_TYPE",
    "DESCRIPTION_VERSION",
    "MAX_DESCRIPTION_SIZE",
    "MAX_INLINE_DESCRIPTION",
    "MAX_RELAYS",
    "ChunkLocation",
    "EncryptedBlob",
    "FileDescription",
    "RedirectDescription",
    "decode_description",
    "encode_description",
    "fits_inline",
    "follow_redirect",
    "redirect_to",
]

DESCRIPTION_VERSION = 1
CHUNK_ID_SIZE = 24
CHUNK_KEY_SIZE = 32
DIGEST_SIZE = 32
MAX_RELAYS = 16
MAX_RELAY_ADDRESS = 2048
MAX_NAME_BYTES = 255
MAX_MIME_BYTES = 127
# A chat event body is at most 12,000 bytes (agent.md); an inline description takes
# at most this much, leaving room for a 4 KiB preview and the event's own fields.
MAX_INLINE_DESCRIPTION = 7168
MAX_DESCRIPTION_SIZE = 512 * 1024
DESCRIPTION_MIME_TYPE = "application/vnd.veil.file-description"
_KIND_FILE = 1
_KIND_REDIRECT = 2


@dataclass(frozen=True, slots=True)
class ChunkLocation:
    """One chunk as one recipient sees it."""

    relay_index: int
    recipient_id: bytes
    recipient_key: bytes
    digest: bytes


@dataclass(frozen=True, slots=True)
class EncryptedBlob:
    """Everything needed to fetch and decrypt one encrypted file."""

    size: int
    secret: FileSecret
    relays: tuple[str, ...]
    chunks: tuple[ChunkLocation, ...]

    @property
    def layout(self) -> ChunkLayout:
        """The chunk layout that ``size`` implies."""
        return plan_layout(self.size)

    def relay_of(self, index: int) -> str:
        """The address of the relay holding chunk ``index``."""
        return self.relays[self.chunks[index].relay_index]


@dataclass(frozen=True, slots=True)
class FileDescription:
    """A file the user sees: name, MIME type and where its encrypted chunks are."""

    name: str
    mime_type: str
    blob: EncryptedBlob


@dataclass(frozen=True, slots=True)
class RedirectDescription:
    """Points at an uploaded description that was too large for a message."""

    target_digest: bytes
    blob: EncryptedBlob


def encode_description(description: FileDescription | RedirectDescription) -> bytes:
    """Encode a description; ``ValueError`` if a field is out of range."""
    writer = Writer().u8(DESCRIPTION_VERSION)
    if isinstance(description, FileDescription):
        check_file_name(description.name, MAX_NAME_BYTES, ValueError)
        check_mime_type(description.mime_type, MAX_MIME_BYTES, ValueError)
        writer.u8(_KIND_FILE).bytes16(description.name.encode())
        writer.bytes8(description.mime_type.encode("ascii"))
    else:
        if len(description.target_digest) != DIGEST_SIZE:
            raise ValueError("a redirect names a 32-byte SHA-256 digest")
        writer.u8(_KIND_REDIRECT).raw(description.target_digest)
    _write_blob(writer, description.blob)
    encoded = writer.build()
    if len(encoded) > MAX_DESCRIPTION_SIZE:
        raise ValueError("the description is larger than any description Veil accepts")
    return encoded


def _write_blob(writer: Writer, blob: EncryptedBlob) -> None:
    _check_blob(blob, ValueError)
    writer.u64(blob.size).raw(blob.secret.encode()).u8(len(blob.relays))
    for relay in blob.relays:
        writer.bytes16(relay.encode("ascii"))
    writer.u16(len(blob.chunks))
    for chunk in blob.chunks:
        writer.u8(chunk.relay_index).raw(chunk.recipient_id)
        writer.raw(chunk.recipient_key).raw(chunk.digest)


def _check_blob(blob: EncryptedBlob, error: type[Exception]) -> None:
    if not 0 <= blob.size <= MAX_FILE_SIZE:
        raise error(f"file size {blob.size} is out of range")
    if not 1 <= len(blob.relays) <= MAX_RELAYS:
        raise error(f"a description names 1..{MAX_RELAYS} relays")
    for relay in blob.relays:
        check_relay_address(relay, MAX_RELAY_ADDRESS, error)
    if len(blob.chunks) != blob.layout.chunk_count:
        raise error(f"{len(blob.chunks)} chunks do not match the file size {blob.size}")
    for chunk in blob.chunks:
        if chunk.relay_index >= len(blob.relays):
            raise error("a chunk names a relay the description does not list")
        sizes = (len(chunk.recipient_id), len(chunk.recipient_key), len(chunk.digest))
        if sizes != (CHUNK_ID_SIZE, CHUNK_KEY_SIZE, DIGEST_SIZE):
            raise error("a chunk id, key or digest has the wrong length")


def decode_description(data: bytes) -> FileDescription | RedirectDescription:
    """Decode a description strictly; :class:`MalformedDescription` on any fault."""
    if len(data) > MAX_DESCRIPTION_SIZE:
        raise MalformedDescription("description is larger than its cap")
    try:
        reader = Reader(data)
        if reader.u8() != DESCRIPTION_VERSION:
            raise MalformedDescription("unknown description version")
        kind = reader.u8()
        decoded = _read_body(reader, kind)
        reader.finish()
    except WireError as exc:
        raise MalformedDescription(f"description does not decode: {exc}") from exc
    return decoded


def _read_body(reader: Reader, kind: int) -> FileDescription | RedirectDescription:
    if kind == _KIND_FILE:
        name = _read_text(reader.bytes16(MAX_NAME_BYTES))
        mime_type = _read_text(reader.bytes8(MAX_MIME_BYTES))
        check_file_name(name, MAX_NAME_BYTES, MalformedDescription)
        check_mime_type(mime_type, MAX_MIME_BYTES, MalformedDescription)
        return FileDescription(name, mime_type, _read_blob(reader))
    if kind == _KIND_REDIRECT:
        digest = reader.raw(DIGEST_SIZE)
        return RedirectDescription(digest, _read_blob(reader))
    raise MalformedDescription(f"unknown description kind {kind}")


def _read_text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise MalformedDescription("text field is not UTF-8") from exc


def _read_blob(reader: Reader) -> EncryptedBlob:
    size = reader.u64()
    secret = FileSecret(reader.raw(FILE_KEY_SIZE), reader.raw(NONCE_PREFIX_SIZE))
    relay_count = reader.u8()
    if not 1 <= relay_count <= MAX_RELAYS:
        raise MalformedDescription(f"a description names 1..{MAX_RELAYS} relays")
    relays = tuple(_read_text(reader.bytes16(MAX_RELAY_ADDRESS)) for _ in range(relay_count))
    chunk_count = reader.u16()
    if not 1 <= chunk_count <= MAX_CHUNKS:
        raise MalformedDescription(f"a description holds 1..{MAX_CHUNKS} chunks")
    chunks = tuple(_read_chunk(reader) for _ in range(chunk_count))
    blob = EncryptedBlob(size, secret, relays, chunks)
    _check_blob(blob, MalformedDescription)
    return blob


def _read_chunk(reader: Reader) -> ChunkLocation:
    relay_index = reader.u8()
    recipient_id = reader.raw(CHUNK_ID_SIZE)
    key = reader.raw(CHUNK_KEY_SIZE)
    return ChunkLocation(relay_index, recipient_id, key, reader.raw(DIGEST_SIZE))


def fits_inline(encoded: bytes) -> bool:
    """Whether an encoded description may travel in a chat message as it is."""
    return len(encoded) <= MAX_INLINE_DESCRIPTION


def redirect_to(target: bytes, blob: EncryptedBlob) -> RedirectDescription:
    """The redirect to send instead of ``target`` (an encoded FILE description too large
    for a message) once ``target`` itself was uploaded as the file ``blob``."""
    if not isinstance(decode_description(target), FileDescription):
        raise ValueError("a redirect leads to a plain file description")
    if len(target) != blob.size:
        raise ValueError("the blob does not hold the target description")
    return RedirectDescription(sha256(target), blob)


def follow_redirect(redirect: RedirectDescription, downloaded: bytes) -> FileDescription:
    """Check and decode the description a redirect led to.

    ``downloaded`` is the decrypted content of the redirect's blob. It must be exactly
    that size, match the digest the redirect names, and be a plain file description.
    """
    if len(downloaded) != redirect.blob.size:
        raise MalformedDescription("redirected description has the wrong size")
    if not constant_time_equal(sha256(downloaded), redirect.target_digest):
        raise MalformedDescription("redirected description does not match its digest")
    target = decode_description(downloaded)
    if not isinstance(target, FileDescription):
        raise MalformedDescription("a redirect may not lead to another redirect")
    return target
