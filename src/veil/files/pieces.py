"""Chunks on the 16 KiB-block transport: pieces, ordering, and download re-encryption.

A chunk travels as pieces of :data:`MAX_PIECE_SIZE` bytes (the last may be shorter),
in order, both ways. On the way out the relay seals every piece to a key agreed for
that one ``FGET`` (``files.md`` section 8), so the bytes a relay receives and the
bytes it sends share nothing::

    download_key = HKDF-SHA256(X25519(own, peer), salt = "", info = DOWNLOAD_KEY_INFO, 32)
    sealed_piece = AES-256-GCM(download_key, nonce = u32 index || 8 zero bytes, piece,
                               ad = correlation_id || u32 index)

The relay's key is fresh per ``FGET``, so the fixed-form nonce never repeats under a
key. :class:`PieceReceiver` is the relay's check of an upload's order;
:class:`ChunkAssembler` is the recipient's collection of one download.
"""

from __future__ import annotations

from collections.abc import Iterator

from veil.crypto.errors import AuthenticationFailed
from veil.crypto.primitives import X25519KeyPair, aead_decrypt, aead_encrypt, hkdf_sha256
from veil.files.commands import MAX_PIECE_SIZE, DownloadPiece, PutPiece
from veil.files.errors import MalformedFileCommand, StreamAuthenticationFailed

__all__ = [
    "DOWNLOAD_KEY_INFO",
    "ChunkAssembler",
    "PieceReceiver",
    "download_key",
    "open_piece",
    "piece_count",
    "seal_piece",
    "split_into_pieces",
]

DOWNLOAD_KEY_INFO = b"veil relay file download v1"


def download_key(own: X25519KeyPair, peer_public: bytes) -> bytes:
    """The key of one download, from either side's key pair and the other's public key."""
    return hkdf_sha256(own.exchange(peer_public), salt=b"", info=DOWNLOAD_KEY_INFO, length=32)


def _nonce_and_ad(correlation_id: bytes, index: int) -> tuple[bytes, bytes]:
    counter = index.to_bytes(4, "big")
    return counter + bytes(8), correlation_id + counter


def seal_piece(key: bytes, correlation_id: bytes, index: int, piece: bytes) -> bytes:
    """The relay seals piece ``index`` of the body it streams for one ``FGET``."""
    nonce, ad = _nonce_and_ad(correlation_id, index)
    return aead_encrypt(key, nonce, piece, ad)


def open_piece(key: bytes, correlation_id: bytes, index: int, sealed: bytes) -> bytes:
    """The recipient opens piece ``index``; :class:`StreamAuthenticationFailed` if forged."""
    nonce, ad = _nonce_and_ad(correlation_id, index)
    try:
        return aead_decrypt(key, nonce, sealed, ad)
    except AuthenticationFailed as exc:
        raise StreamAuthenticationFailed(f"download piece {index} did not authenticate") from exc


def piece_count(size: int) -> int:
    """How many pieces a body of ``size`` bytes travels in."""
    return -(-size // MAX_PIECE_SIZE)


def split_into_pieces(body: bytes) -> Iterator[PutPiece]:
    """The ``FPUT`` pieces of one chunk body, in order."""
    for offset in range(0, len(body), MAX_PIECE_SIZE):
        yield PutPiece(offset, body[offset : offset + MAX_PIECE_SIZE])


class PieceReceiver:
    """The relay's view of one upload: pieces must come in order and fill ``size``."""

    __slots__ = ("received", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.received = 0

    def accept(self, piece: PutPiece) -> bool:
        """Check the next piece; True once the body is complete.

        :class:`MalformedFileCommand` for a piece out of order, a short piece that is
        not the last, or one that passes the size (the upload is then dropped).
        """
        end = piece.offset + len(piece.piece)
        if piece.offset != self.received or end > self.size:
            raise MalformedFileCommand(f"FPUT at {piece.offset} does not follow {self.received}")
        if len(piece.piece) < MAX_PIECE_SIZE and end != self.size:
            raise MalformedFileCommand("only the last FPUT piece may be short")
        self.received = end
        return end == self.size


class ChunkAssembler:
    """The recipient's side of one ``FGET``: opens pieces in order into the chunk."""

    __slots__ = ("_correlation_id", "_key", "_parts", "_received", "size")

    def __init__(self, key: bytes, correlation_id: bytes, size: int) -> None:
        self._key = key
        self._correlation_id = correlation_id
        self.size = size
        self._parts: list[bytes] = []
        self._received = 0

    def accept(self, piece: DownloadPiece) -> bytes | None:
        """Open the next piece; the whole chunk once the last one came, else ``None``."""
        if piece.index != len(self._parts) or self._received >= self.size:
            raise MalformedFileCommand(f"FDAT piece {piece.index} is out of order")
        data = open_piece(self._key, self._correlation_id, piece.index, piece.sealed)
        expected = min(MAX_PIECE_SIZE, self.size - self._received)
        if len(data) != expected:
            raise MalformedFileCommand(f"FDAT piece {piece.index} has the wrong length")
        self._parts.append(data)
        self._received += len(data)
        if self._received < self.size:
            return None
        chunk, self._parts = b"".join(self._parts), []
        return chunk
