"""File encryption: a STREAM construction over AES-256-GCM with a fresh key per file.

The padded file is cut into segments of ``SEGMENT_PLAINTEXT_SIZE`` bytes and each is
sealed on its own, as in the STREAM construction of Hoang, Reyhanitabar, Rogaway and
Vizár ("Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance",
CRYPTO 2015) and in Tink's streaming AEAD::

    nonce_i   = nonce_prefix (7) || u32 i || u8 (1 if i is the last segment else 0)
    segment_i = AES-256-GCM(file_key, nonce_i, plaintext_i, ad = SEGMENT_AD)

The index in the nonce makes a segment valid only at its own position (reordering
fails), and the last-segment flag makes a stream valid only where its sender ended it
(truncation and extension fail). ``file_key`` and ``nonce_prefix`` are drawn fresh for
every encryption pass and used by that pass only, so no (key, nonce) pair ever covers
two plaintexts; a pass that is interrupted is thrown away, never resumed.

Padding fills the plaintext with zero bytes up to the size class (``layout.py``);
the exact size travels in the file description, and a decryptor checks that every
padding byte is zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from veil.crypto.errors import AuthenticationFailed
from veil.crypto.primitives import aead_decrypt, aead_encrypt
from veil.crypto.random import RandomSource
from veil.files.errors import SourceChanged, StreamAuthenticationFailed
from veil.files.layout import SEGMENT_PLAINTEXT_SIZE, SEGMENT_SIZE, ChunkLayout

__all__ = [
    "FILE_KEY_SIZE",
    "NONCE_PREFIX_SIZE",
    "SEGMENT_AD",
    "FileSecret",
    "SegmentCipher",
    "encrypt_stream",
]

FILE_KEY_SIZE = 32
NONCE_PREFIX_SIZE = 7
SEGMENT_AD = b"veil/files/v1/segment"
_LAST = b"\x01"
_NOT_LAST = b"\x00"


@dataclass(frozen=True, slots=True)
class FileSecret:
    """The key and nonce prefix of one encryption pass; they travel in the description."""

    key: bytes
    nonce_prefix: bytes

    def __post_init__(self) -> None:
        if len(self.key) != FILE_KEY_SIZE or len(self.nonce_prefix) != NONCE_PREFIX_SIZE:
            raise ValueError("a file secret is a 32-byte key and a 7-byte nonce prefix")

    @classmethod
    def generate(cls, rng: RandomSource) -> FileSecret:
        """Draw a fresh secret for one encryption pass."""
        return cls(rng.random_bytes(FILE_KEY_SIZE), rng.random_bytes(NONCE_PREFIX_SIZE))

    def encode(self) -> bytes:
        """The 39 bytes stored in a description."""
        return self.key + self.nonce_prefix


class SegmentCipher:
    """Seals and opens the segments of one file, each by its index (random access)."""

    __slots__ = ("_layout", "_secret")

    def __init__(self, secret: FileSecret, layout: ChunkLayout) -> None:
        self._secret = secret
        self._layout = layout

    def _nonce(self, index: int) -> bytes:
        if not 0 <= index < self._layout.segment_count:
            raise ValueError(f"segment {index} is outside this file")
        last = _LAST if index == self._layout.segment_count - 1 else _NOT_LAST
        return self._secret.nonce_prefix + index.to_bytes(4, "big") + last

    def seal(self, index: int, plaintext: bytes) -> bytes:
        """Encrypt segment ``index`` (exactly one segment of padded plaintext)."""
        if len(plaintext) != SEGMENT_PLAINTEXT_SIZE:
            raise ValueError(f"a segment holds exactly {SEGMENT_PLAINTEXT_SIZE} bytes")
        return aead_encrypt(self._secret.key, self._nonce(index), plaintext, SEGMENT_AD)

    def open(self, index: int, segment: bytes) -> bytes:
        """Decrypt segment ``index`` and return only the file bytes it holds.

        Raises :class:`StreamAuthenticationFailed` if the segment is forged, misplaced,
        or marked last when it is not (or the reverse), or if its padding is not zero.
        """
        if len(segment) != SEGMENT_SIZE:
            raise StreamAuthenticationFailed(f"segment {index} is not {SEGMENT_SIZE} bytes")
        try:
            plaintext = aead_decrypt(self._secret.key, self._nonce(index), segment, SEGMENT_AD)
        except AuthenticationFailed as exc:
            raise StreamAuthenticationFailed(f"segment {index} did not authenticate") from exc
        keep = self.file_bytes_in(index)
        if plaintext[keep:].count(0) != len(plaintext) - keep:
            raise StreamAuthenticationFailed(f"segment {index} has non-zero padding")
        return plaintext[:keep]

    def file_bytes_in(self, index: int) -> int:
        """How many bytes of the file (not padding) segment ``index`` holds."""
        start = index * SEGMENT_PLAINTEXT_SIZE
        return max(0, min(SEGMENT_PLAINTEXT_SIZE, self._layout.plaintext_size - start))


def encrypt_stream(
    secret: FileSecret, layout: ChunkLayout, read: Callable[[int], bytes]
) -> Iterator[bytes]:
    """Yield the encrypted segments of a file read through ``read(n)``, one at a time.

    Memory stays at one segment whatever the file's size. ``read`` is a file object's
    ``read``; the file must hold exactly ``layout.plaintext_size`` bytes, otherwise
    :class:`SourceChanged` is raised (the pass is then abandoned with its secret).
    """
    cipher = SegmentCipher(secret, layout)
    for index in range(layout.segment_count):
        wanted = cipher.file_bytes_in(index)
        data = _read_exactly(read, wanted)
        yield cipher.seal(index, data.ljust(SEGMENT_PLAINTEXT_SIZE, b"\x00"))
    if read(1):
        raise SourceChanged("the file grew while it was being encrypted; send it again")


def _read_exactly(read: Callable[[int], bytes], length: int) -> bytes:
    parts: list[bytes] = []
    missing = length
    while missing:
        part = read(missing)
        if not part:
            raise SourceChanged("the file shrank while it was being encrypted; send it again")
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)
