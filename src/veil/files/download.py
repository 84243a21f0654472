"""The recipient's side of a transfer: which chunks to fetch, checks, resumption.

A :class:`Download` is a sans-I/O state machine over one :class:`EncryptedBlob`. The
adapter asks :meth:`Download.next_fetches` what to fetch (a bounded number at a
time), hands each fetched chunk to :meth:`Download.chunk_fetched` (which checks its
digest *before* decrypting anything and returns the plaintext and where it goes in
the output file), writes and syncs it, then calls :meth:`Download.chunk_written`.
Only then is the chunk done: the :class:`DownloadRecord` the adapter persists holds
exactly the chunks that are on disk, so after a crash nothing finished is fetched
again and nothing unverified was ever written.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.crypto.primitives import constant_time_equal, sha256
from veil.files.description import EncryptedBlob
from veil.files.errors import ChunkTampered, CorruptTransferState, FileProtocolError
from veil.files.layout import SEGMENT_PLAINTEXT_SIZE, SEGMENT_SIZE
from veil.files.records import decode_bitmap, encode_bitmap, pull_record, push_record
from veil.files.stream import SegmentCipher

__all__ = [
    "DOWNLOAD_RECORD_VERSION",
    "ChunkFetch",
    "ChunkPlaintext",
    "Download",
    "DownloadRecord",
    "decode_download_record",
    "encode_download_record",
]

DOWNLOAD_RECORD_VERSION = 1
_RECORD_KIND = b"veil-download"


@dataclass(frozen=True, slots=True)
class ChunkFetch:
    """Fetch chunk ``index`` from ``relay`` with this recipient's id and key."""

    index: int
    relay: str
    recipient_id: bytes
    recipient_key: bytes
    size: int


@dataclass(frozen=True, slots=True)
class ChunkPlaintext:
    """The verified, decrypted file bytes of one chunk and their offset in the file."""

    index: int
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class DownloadRecord:
    """What a download persists: the blob it is for, and which of its chunks are on disk."""

    blob_digest: bytes
    chunk_count: int
    done: frozenset[int]


class Download:
    """Fetches, verifies and decrypts one blob's chunks, resumably."""

    __slots__ = ("_blob", "_cipher", "_done", "_in_flight")

    def __init__(self, blob: EncryptedBlob, record: DownloadRecord | None = None) -> None:
        self._blob = blob
        self._cipher = SegmentCipher(blob.secret, blob.layout)
        self._in_flight: set[int] = set()
        self._done: set[int] = set()
        if record is not None:
            if not constant_time_equal(record.blob_digest, blob_digest(blob)):
                raise CorruptTransferState("this download record belongs to another file")
            if record.chunk_count != len(blob.chunks):
                raise CorruptTransferState("download record has another chunk count")
            self._done = set(record.done)

    @property
    def complete(self) -> bool:
        """Every chunk is written to disk."""
        return len(self._done) == len(self._blob.chunks)

    @property
    def progress(self) -> tuple[int, int]:
        """``(chunks done, chunks in all)``."""
        return len(self._done), len(self._blob.chunks)

    def next_fetches(self, parallel: int) -> list[ChunkFetch]:
        """Start fetches until ``parallel`` are in flight; returns the new ones."""
        started: list[ChunkFetch] = []
        for index in range(len(self._blob.chunks)):
            if len(self._in_flight) >= parallel:
                break
            if index in self._done or index in self._in_flight:
                continue
            self._in_flight.add(index)
            chunk = self._blob.chunks[index]
            relay = self._blob.relay_of(index)
            size = self._blob.layout.chunk_size
            started.append(ChunkFetch(index, relay, chunk.recipient_id, chunk.recipient_key, size))
        return started

    def chunk_fetched(self, index: int, ciphertext: bytes) -> ChunkPlaintext:
        """Verify and decrypt a fetched chunk; :class:`ChunkTampered` if it is not genuine.

        The digest is checked before any decryption; every segment is decrypted before
        anything is returned, so a chunk is written whole or not at all. On failure the
        chunk is released to be fetched again.
        """
        self._require_in_flight(index)
        try:
            return self._open_chunk(index, ciphertext)
        except FileProtocolError:
            self._in_flight.discard(index)
            raise

    def _open_chunk(self, index: int, ciphertext: bytes) -> ChunkPlaintext:
        expected = self._blob.chunks[index].digest
        if len(ciphertext) != self._blob.layout.chunk_size or not constant_time_equal(
            sha256(ciphertext), expected
        ):
            raise ChunkTampered(f"chunk {index} does not match its digest; it was discarded")
        first = index * self._blob.layout.segments_per_chunk
        parts = [
            self._cipher.open(first + n, ciphertext[n * SEGMENT_SIZE : (n + 1) * SEGMENT_SIZE])
            for n in range(self._blob.layout.segments_per_chunk)
        ]
        return ChunkPlaintext(index, first * SEGMENT_PLAINTEXT_SIZE, b"".join(parts))

    def chunk_failed(self, index: int) -> None:
        """A fetch failed (relay down, timeout): the chunk will be fetched again."""
        self._require_in_flight(index)
        self._in_flight.discard(index)

    def chunk_written(self, index: int) -> None:
        """The adapter wrote the chunk's plaintext and synced it: the chunk is done."""
        self._require_in_flight(index)
        self._in_flight.discard(index)
        self._done.add(index)

    def _require_in_flight(self, index: int) -> None:
        if index not in self._in_flight:
            raise ValueError(f"chunk {index} is not being fetched")

    def record(self) -> DownloadRecord:
        """The state to persist (after each :meth:`chunk_written`)."""
        return DownloadRecord(
            blob_digest(self._blob), len(self._blob.chunks), frozenset(self._done)
        )

    def acknowledgements(self) -> list[ChunkFetch]:
        """After completion: the recipient ids to delete on the relays."""
        if not self.complete:
            raise ValueError("acknowledge chunks only once the whole file is on disk")
        return [
            ChunkFetch(i, self._blob.relay_of(i), c.recipient_id, c.recipient_key, 0)
            for i, c in enumerate(self._blob.chunks)
        ]


def blob_digest(blob: EncryptedBlob) -> bytes:
    """Names a blob in a record: SHA-256 over its secret and its chunk digests."""
    return sha256(blob.secret.encode() + b"".join(chunk.digest for chunk in blob.chunks))


def encode_download_record(record: DownloadRecord) -> bytes:
    """Serialise a record (versioned) for the client store::

    record = bytes8 "veil-download" || u16 version (1) || raw(32) blob_digest
             || u16 chunk_count || ceil(chunk_count / 8) bitmap of done chunks (MSB first)
    """
    writer = push_record(_RECORD_KIND, DOWNLOAD_RECORD_VERSION)
    writer.raw(record.blob_digest)
    encode_bitmap(writer, record.done, record.chunk_count)
    return writer.build()


def decode_download_record(data: bytes) -> DownloadRecord:
    """Parse a record; :class:`CorruptTransferState` on any fault."""
    with pull_record(data, _RECORD_KIND, DOWNLOAD_RECORD_VERSION) as reader:
        blob = reader.raw(32)
        count, done = decode_bitmap(reader)
    return DownloadRecord(blob, count, done)
