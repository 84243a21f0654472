"""The agent message envelope: a sequence number and the hash of the previous message.

Every payload a connection sends inside the double ratchet is wrapped as::

    u8 version (1) || u64 sequence || 32-byte previous hash || u32 length || body

Sequences start at 1 and grow by one per message in each direction. The previous
hash is SHA-256 over the whole previous envelope the same side sent (all zeros before
the first), so the two sides' histories form a hash chain. The receiver classifies
each message it opens (see :class:`Integrity`) and the agent shows the verdict to
the user next to the message instead of hiding gaps or forks.

:class:`EnvelopeTracker` holds both directions' counters for one connection. It is
sans-I/O and mutable; for a transactional receive, ``copy()`` it, ``open`` on the
copy, and keep the copy only once everything else committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from veil.agent.errors import MalformedEnvelope, MalformedTrackerState
from veil.crypto import sha256
from veil.wire import Reader, WireError, Writer

__all__ = [
    "ENVELOPE_OVERHEAD",
    "ENVELOPE_VERSION",
    "HASH_SIZE",
    "MAX_BODY_SIZE",
    "MAX_MISSING_RANGES",
    "TRACKER_STATE_VERSION",
    "EnvelopeTracker",
    "Integrity",
    "OpenedEnvelope",
]

ENVELOPE_VERSION = 1
TRACKER_STATE_VERSION = 1
HASH_SIZE = 32
MAX_BODY_SIZE = 16_384
MAX_SEQUENCE = 2**64 - 1
# Gaps still waiting for a late message; the oldest are forgotten beyond this, after
# which a very late message is reported as a duplicate.
MAX_MISSING_RANGES = 64
ENVELOPE_OVERHEAD = 1 + 8 + HASH_SIZE + 4
_NO_HASH = bytes(HASH_SIZE)


class Integrity(StrEnum):
    """The receiver's verdict on one opened envelope."""

    OK = "ok"
    """The next sequence number, chained to the previous message."""
    SKIPPED = "skipped"
    """Messages before this one never arrived (:attr:`OpenedEnvelope.skipped` says how many)."""
    LATE = "late"
    """A message earlier reported missing arrived after all (its chain cannot be checked)."""
    DUPLICATE = "duplicate"
    """This sequence number was already received."""
    BAD_HASH = "bad_hash"
    """The next sequence number, but its previous hash is not our last message's hash:
    the sender's history differs from ours (e.g. it restored a backup)."""


@dataclass(frozen=True, slots=True)
class OpenedEnvelope:
    """An envelope's body with the tracker's verdict on it."""

    sequence: int
    body: bytes
    integrity: Integrity
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class _Envelope:
    sequence: int
    previous_hash: bytes
    body: bytes

    def encode(self) -> bytes:
        writer = Writer().u8(ENVELOPE_VERSION).u64(self.sequence).raw(self.previous_hash)
        return writer.bytes32(self.body).build()

    @classmethod
    def decode(cls, data: bytes) -> _Envelope:
        reader = Reader(data)
        try:
            version = reader.u8()
            if version != ENVELOPE_VERSION:
                raise MalformedEnvelope(f"unknown envelope version {version}")
            envelope = cls(reader.u64(), reader.raw(HASH_SIZE), reader.bytes32(MAX_BODY_SIZE))
            reader.finish()
        except WireError as exc:
            raise MalformedEnvelope(f"bad envelope: {exc}") from exc
        if envelope.sequence == 0:
            raise MalformedEnvelope("envelope sequence numbers start at 1")
        return envelope


@dataclass(slots=True)
class EnvelopeTracker:
    """Both directions' sequence state for one connection."""

    last_sent: int = 0
    last_sent_hash: bytes = _NO_HASH
    last_received: int = 0
    last_received_hash: bytes = _NO_HASH
    # Inclusive (first, last) ranges of sequence numbers skipped over, oldest first.
    missing: list[tuple[int, int]] = field(default_factory=list)

    def copy(self) -> EnvelopeTracker:
        """An independent copy, to open envelopes on before committing."""
        return EnvelopeTracker(
            self.last_sent,
            self.last_sent_hash,
            self.last_received,
            self.last_received_hash,
            list(self.missing),
        )

    def seal(self, body: bytes) -> bytes:
        """Wrap ``body`` in the next outgoing envelope and advance the send counter."""
        if len(body) > MAX_BODY_SIZE:
            raise ValueError(f"envelope body of {len(body)} bytes exceeds {MAX_BODY_SIZE}")
        if self.last_sent == MAX_SEQUENCE:
            raise ValueError("sequence numbers exhausted")
        encoded = _Envelope(self.last_sent + 1, self.last_sent_hash, body).encode()
        self.last_sent += 1
        self.last_sent_hash = sha256(encoded)
        return encoded

    def open(self, data: bytes) -> OpenedEnvelope:
        """Decode an incoming envelope and classify it; :class:`MalformedEnvelope` if bad."""
        envelope = _Envelope.decode(data)
        sequence = envelope.sequence
        if sequence <= self.last_received:
            found = self._take_missing(sequence)
            verdict = Integrity.LATE if found else Integrity.DUPLICATE
            return OpenedEnvelope(sequence, envelope.body, verdict)
        skipped = sequence - self.last_received - 1
        if skipped:
            self._add_missing(self.last_received + 1, sequence - 1)
            verdict = Integrity.SKIPPED
        elif envelope.previous_hash == self.last_received_hash:
            verdict = Integrity.OK
        else:
            verdict = Integrity.BAD_HASH
        # Authenticated by the ratchet, so even a forked history moves us forward:
        # the verdict is reported, and the next message chains to this one.
        self.last_received = sequence
        self.last_received_hash = sha256(data)
        return OpenedEnvelope(sequence, envelope.body, verdict, skipped)

    def _add_missing(self, first: int, last: int) -> None:
        self.missing.append((first, last))
        del self.missing[:-MAX_MISSING_RANGES]

    def _take_missing(self, sequence: int) -> bool:
        for index, (first, last) in enumerate(self.missing):
            if first <= sequence <= last:
                pieces = [(first, sequence - 1), (sequence + 1, last)]
                self.missing[index : index + 1] = [(a, b) for a, b in pieces if a <= b]
                del self.missing[:-MAX_MISSING_RANGES]
                return True
        return False

    def to_bytes(self) -> bytes:
        """Serialise for the store, led by :data:`TRACKER_STATE_VERSION`."""
        writer = Writer().u8(TRACKER_STATE_VERSION)
        writer.u64(self.last_sent).raw(self.last_sent_hash)
        writer.u64(self.last_received).raw(self.last_received_hash)
        writer.u8(len(self.missing))
        for first, last in self.missing:
            writer.u64(first).u64(last)
        return writer.build()

    @classmethod
    def from_bytes(cls, data: bytes) -> EnvelopeTracker:
        """Restore :meth:`to_bytes` output; :class:`MalformedTrackerState` if damaged."""
        reader = Reader(data)
        try:
            version = reader.u8()
            if version != TRACKER_STATE_VERSION:
                raise MalformedTrackerState(f"unknown tracker state version {version}")
            tracker = cls(reader.u64(), reader.raw(HASH_SIZE), reader.u64(), reader.raw(HASH_SIZE))
            count = reader.u8()
            if count > MAX_MISSING_RANGES:
                raise MalformedTrackerState(f"{count} missing ranges")
            tracker.missing = [(reader.u64(), reader.u64()) for _ in range(count)]
            reader.finish()
        except WireError as exc:
            raise MalformedTrackerState(f"bad tracker state: {exc}") from exc
        tracker._check_missing()
        return tracker

    def _check_missing(self) -> None:
        previous_last = 0
        for first, last in self.missing:
            if not previous_last < first <= last < self.last_received:
                raise MalformedTrackerState(f"bad missing range {first}..{last}")
            previous_last = last
