"""Recognising a frame that was committed already, before anything decrypts it.

The same frame can reach a receive queue twice:

* the relay sends it again because our ``ACK`` was lost (a crash between the
  commit and the ``ACK``, or a lost connection): same relay message id;
* the sender sends it again because it crashed after its ``SEND`` reached the
  relay but before it removed the outbox entry: a *new* relay message id, but
  the very same bytes, since the outbox keeps the finished frame
  (:mod:`veil.agent.delivery`).

Both copies are byte-identical frames, so each receive queue remembers the SHA-256
of the frames it committed last (:class:`CommittedFrames`), in the same transaction
as the commit, and a delivery whose frame is remembered is acknowledged without
being processed. The ratchet alone cannot always tell: once the peer has turned the
DH ratchet, a copy from an older chain no longer opens with any header key and
would look like desynchronisation; and a contact request has no ratchet at all.

Layout of :meth:`CommittedFrames.encode`::

    u8 count (<= REMEMBERED_FRAMES)   then count x bytes8 mark, oldest first
        mark = SHA-256 of a committed frame (32 bytes), or a relay message id
               (24 bytes) remembered by queue state version 2, which is read as
               the oldest marks and ages out as new frames are committed
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from veil.agent.errors import ConnectionStateCorrupt
from veil.crypto import sha256
from veil.wire import Reader, Writer

__all__ = ["FRAME_DIGEST_SIZE", "REMEMBERED_FRAMES", "CommittedFrames"]

FRAME_DIGEST_SIZE = 32
REMEMBERED_FRAMES = 64
"""Frames remembered per receive queue. The relay redelivers only messages in flight
(one delivery window, 32 for the agent), and a sender resends only what was still
in its outbox, which goes out ahead of anything newer; 64 covers both."""
_LEGACY_MESSAGE_ID_SIZE = 24
_MARK_SIZES = frozenset((FRAME_DIGEST_SIZE, _LEGACY_MESSAGE_ID_SIZE))


@dataclass(frozen=True, slots=True)
class CommittedFrames:
    """Marks of the latest frames committed from one receive queue, oldest first."""

    marks: tuple[bytes, ...] = ()

    @classmethod
    def from_message_ids(cls, message_ids: Iterable[bytes]) -> CommittedFrames:
        """Carry over the relay message ids an older state remembered instead."""
        return cls(tuple(message_ids)[-REMEMBERED_FRAMES:])

    def admit(self, message_id: bytes, frame: bytes) -> CommittedFrames | None:
        """``None`` if this delivery repeats a committed one (same frame, or same relay
        id); otherwise these marks plus the frame's. Hashes the 15 KiB frame once."""
        mark = sha256(frame)
        if mark in self.marks or message_id in self.marks:
            return None
        return self._with_mark(mark)

    def holds(self, message_id: bytes, frame: bytes) -> bool:
        """Whether this delivery repeats a committed one (same frame, or same relay id)."""
        return self.admit(message_id, frame) is None

    def with_frame(self, frame: bytes) -> CommittedFrames:
        """These marks plus ``frame``'s; the oldest mark goes when the memory is full."""
        return self._with_mark(sha256(frame))

    def _with_mark(self, mark: bytes) -> CommittedFrames:
        return CommittedFrames((*self.marks, mark)[-REMEMBERED_FRAMES:])

    def encode(self, writer: Writer) -> None:
        """Append the marks."""
        writer.u8(len(self.marks))
        for mark in self.marks:
            writer.bytes8(mark)

    @classmethod
    def decode(cls, reader: Reader) -> CommittedFrames:
        """Read what :meth:`encode` wrote; :class:`ConnectionStateCorrupt` if out of bounds."""
        count = reader.u8()
        if count > REMEMBERED_FRAMES:
            raise ConnectionStateCorrupt(f"{count} remembered frames exceed the cap")
        marks = tuple(reader.bytes8(FRAME_DIGEST_SIZE) for _ in range(count))
        if any(len(mark) not in _MARK_SIZES for mark in marks):
            raise ConnectionStateCorrupt("a remembered frame mark has a bad size")
        return cls(marks)
