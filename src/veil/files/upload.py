"""The sender's side of a transfer: register, upload, fail over, resume.

The file is first encrypted once, whole, into a staging file (``stream.py``), with
:class:`ChunkDigests` computing each chunk's digest on the way; only then does an
:class:`Upload` start. It is a sans-I/O state machine over the chunks::

    PENDING --RegisterChunk/chunk_registered--> REGISTERED --PutChunk/chunk_uploaded--> UPLOADED

:meth:`Upload.next_actions` issues at most ``parallel`` actions at a time. Keys for a
registration are drawn when it is issued and kept only once the relay answers, so a
registration lost in a crash is simply made again (the orphan on the relay expires).
The :class:`UploadRecord` the adapter persists after each answer holds every
``UPLOADED`` chunk, so after a crash no finished chunk is uploaded again. A relay
that goes down gives its unfinished chunks to relays still up.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum

from veil.crypto.primitives import X25519KeyPair, sha256
from veil.crypto.random import RandomSource
from veil.files.description import ChunkLocation, EncryptedBlob, FileDescription
from veil.files.layout import SEGMENT_SIZE, ChunkLayout, plan_layout, replace_failed
from veil.files.stream import FileSecret

__all__ = [
    "MAX_RECIPIENTS",
    "ChunkDigests",
    "ChunkStage",
    "ChunkUpload",
    "PutChunk",
    "RecipientCredential",
    "RegisterChunk",
    "Upload",
    "UploadRecord",
]

MAX_RECIPIENTS = 128


class ChunkStage(IntEnum):
    """How far one chunk got; only forward, except a failover back to ``PENDING``."""

    PENDING = 0
    REGISTERED = 1
    UPLOADED = 2


@dataclass(frozen=True, slots=True)
class RecipientCredential:
    """A recipient id on a relay and the private key that authorises its downloads."""

    recipient_id: bytes
    key: bytes


@dataclass(frozen=True, slots=True)
class ChunkUpload:
    """One chunk's placement and progress; ids and keys once registered."""

    relay: str
    digest: bytes
    stage: ChunkStage = ChunkStage.PENDING
    sender_id: bytes = b""
    sender_key: bytes = b""
    recipients: tuple[RecipientCredential, ...] = ()


@dataclass(frozen=True, slots=True)
class RegisterChunk:
    """Register chunk ``index`` on ``relay``: the adapter sends the relay's register command."""

    index: int
    relay: str
    size: int
    digest: bytes
    sender_key: bytes
    sender_auth_key: bytes
    recipient_auth_keys: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class PutChunk:
    """Upload the staged bytes ``[offset, offset + size)`` as chunk ``index``."""

    index: int
    relay: str
    sender_id: bytes
    sender_key: bytes
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """What an upload persists: the file's secret and size, and every chunk's progress."""

    size: int
    secret: FileSecret
    recipients: int
    chunks: tuple[ChunkUpload, ...]


class ChunkDigests:
    """Turns a stream of encrypted segments into one SHA-256 digest per chunk."""

    __slots__ = ("_digests", "_hash_input", "_layout")

    def __init__(self, layout: ChunkLayout) -> None:
        self._layout = layout
        self._hash_input: list[bytes] = []
        self._digests: list[bytes] = []

    def add(self, segment: bytes) -> None:
        """Account for the next encrypted segment."""
        if len(segment) != SEGMENT_SIZE or len(self._digests) == self._layout.chunk_count:
            raise ValueError("segments must be whole and no more than the layout holds")
        self._hash_input.append(segment)
        if len(self._hash_input) == self._layout.segments_per_chunk:
            self._digests.append(sha256(b"".join(self._hash_input)))
            self._hash_input = []

    def digests(self) -> tuple[bytes, ...]:
        """Every chunk's digest, once every segment was added."""
        if len(self._digests) != self._layout.chunk_count:
            raise ValueError("not every segment of the file was added")
        return tuple(self._digests)


class Upload:
    """Registers and uploads one encrypted file's chunks, resumably."""

    __slots__ = ("_chunks", "_in_flight", "_issued_keys", "_record", "_rng")

    def __init__(self, record: UploadRecord, rng: RandomSource) -> None:
        if not 1 <= record.recipients <= MAX_RECIPIENTS:
            raise ValueError(f"a chunk has 1..{MAX_RECIPIENTS} recipients")
        if len(record.chunks) != plan_layout(record.size).chunk_count:
            raise ValueError("the record's chunks do not match its size")
        self._record = record
        self._chunks = list(record.chunks)
        self._rng = rng
        self._in_flight: set[int] = set()
        self._issued_keys: dict[int, tuple[X25519KeyPair, list[X25519KeyPair]]] = {}

    @classmethod
    def start(
        cls,
        *,
        secret: FileSecret,
        size: int,
        digests: Sequence[bytes],
        placement: Sequence[str],
        recipients: int,
        rng: RandomSource,
    ) -> Upload:
        """Begin uploading chunks with these digests to the relays of ``placement``."""
        chunks = tuple(
            ChunkUpload(relay, digest) for relay, digest in zip(placement, digests, strict=True)
        )
        return cls(UploadRecord(size, secret, recipients, chunks), rng)

    @property
    def complete(self) -> bool:
        """Every chunk is stored on its relay."""
        return all(chunk.stage is ChunkStage.UPLOADED for chunk in self._chunks)

    @property
    def progress(self) -> tuple[int, int]:
        """``(chunks uploaded, chunks in all)``."""
        done = sum(chunk.stage is ChunkStage.UPLOADED for chunk in self._chunks)
        return done, len(self._chunks)

    def next_actions(self, parallel: int) -> list[RegisterChunk | PutChunk]:
        """Issue actions until ``parallel`` are in flight; returns the new ones."""
        issued: list[RegisterChunk | PutChunk] = []
        for index, chunk in enumerate(self._chunks):
            if len(self._in_flight) >= parallel:
                break
            if index in self._in_flight or chunk.stage is ChunkStage.UPLOADED:
                continue
            self._in_flight.add(index)
            if chunk.stage is ChunkStage.PENDING:
                issued.append(self._issue_register(index, chunk))
            else:
                issued.append(self._issue_put(index, chunk))
        return issued

    def _issue_register(self, index: int, chunk: ChunkUpload) -> RegisterChunk:
        sender = X25519KeyPair.generate(self._rng)
        readers = [X25519KeyPair.generate(self._rng) for _ in range(self._record.recipients)]
        self._issued_keys[index] = (sender, readers)
        size = plan_layout(self._record.size).chunk_size
        publics = tuple(reader.public for reader in readers)
        return RegisterChunk(
            index, chunk.relay, size, chunk.digest, sender.private, sender.public, publics
        )

    def _issue_put(self, index: int, chunk: ChunkUpload) -> PutChunk:
        size = plan_layout(self._record.size).chunk_size
        return PutChunk(index, chunk.relay, chunk.sender_id, chunk.sender_key, index * size, size)

    def chunk_registered(
        self, index: int, sender_id: bytes, recipient_ids: Sequence[bytes]
    ) -> None:
        """The relay registered chunk ``index`` and answered with these ids."""
        self._finish(index, ChunkStage.PENDING)
        sender, readers = self._issued_keys.pop(index)
        if len(recipient_ids) != len(readers) or len(set(recipient_ids)) != len(readers):
            raise ValueError("the relay must answer one distinct recipient id per key")
        credentials = tuple(
            RecipientCredential(rid, reader.private)
            for rid, reader in zip(recipient_ids, readers, strict=True)
        )
        self._chunks[index] = replace(
            self._chunks[index],
            stage=ChunkStage.REGISTERED,
            sender_id=sender_id,
            sender_key=sender.private,
            recipients=credentials,
        )

    def chunk_uploaded(self, index: int) -> None:
        """The relay acknowledged chunk ``index``'s body: it is never sent again."""
        self._finish(index, ChunkStage.REGISTERED)
        self._chunks[index] = replace(self._chunks[index], stage=ChunkStage.UPLOADED)

    def action_failed(self, index: int) -> None:
        """An action failed (timeout, error answer): it will be issued again."""
        self._finish(index, self._chunks[index].stage)
        self._issued_keys.pop(index, None)

    def _finish(self, index: int, expected: ChunkStage) -> None:
        if index not in self._in_flight or self._chunks[index].stage is not expected:
            raise ValueError(f"chunk {index} has no {expected.name} action in flight")
        self._in_flight.discard(index)

    def relays_down(self, relays: Sequence[str], down: Collection[str]) -> None:
        """Move every unfinished chunk on a relay in ``down`` to an enabled relay still up.

        Its registration there (if any) is abandoned and made again on the new relay.
        Raises :class:`NoRelayAvailable` if every enabled relay is down.
        """
        placement = [chunk.relay for chunk in self._chunks]
        movable = [
            i
            for i, chunk in enumerate(self._chunks)
            if chunk.stage is not ChunkStage.UPLOADED and i not in self._in_flight
        ]
        for index, relay in enumerate(replace_failed(placement, movable, relays, down)):
            if relay != placement[index]:
                self._chunks[index] = ChunkUpload(relay, self._chunks[index].digest)

    def record(self) -> UploadRecord:
        """The state to persist (after each answer)."""
        return replace(self._record, chunks=tuple(self._chunks))

    def descriptions(self, name: str, mime_type: str) -> tuple[FileDescription, ...]:
        """One description per recipient, once every chunk is uploaded."""
        if not self.complete:
            raise ValueError("describe the file only once every chunk is uploaded")
        relays = tuple(dict.fromkeys(chunk.relay for chunk in self._chunks))
        return tuple(
            FileDescription(name, mime_type, self._blob_for(reader, relays))
            for reader in range(self._record.recipients)
        )

    def _blob_for(self, reader: int, relays: tuple[str, ...]) -> EncryptedBlob:
        chunks = tuple(
            ChunkLocation(
                relays.index(chunk.relay),
                chunk.recipients[reader].recipient_id,
                chunk.recipients[reader].key,
                chunk.digest,
            )
            for chunk in self._chunks
        )
        return EncryptedBlob(self._record.size, self._record.secret, relays, chunks)

    def sender_credentials(self) -> list[tuple[str, bytes, bytes]]:
        """``(relay, sender_id, sender_key)`` of every registered chunk, to delete them."""
        return [
            (chunk.relay, chunk.sender_id, chunk.sender_key)
            for chunk in self._chunks
            if chunk.stage is not ChunkStage.PENDING
        ]
