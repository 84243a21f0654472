"""The default embedded store: an append-only journal of checksummed records.

Layout (a folder, ``relay.journal`` in the data directory)::

    00000001.seg, 00000002.seg, ...   segments, oldest first (journal_format)
    quarantine/                       bytes cut off damaged or torn tails (journal_replay)

:meth:`JournalStore.apply` encodes a batch of changes as records followed by a
``COMMIT`` record and writes them to the head segment with one ``write`` from the
event loop (into the page cache: no thread hop). It then asks the fsync thread
(:mod:`journal_sync`) to make that batch durable and waits; batches written while a
sync runs share the next one (group fsync). So an answered write is durable, and a
burst of writes from many connections costs one ``fdatasync``.

If a write fails (a full disk), the head is truncated back to where the batch began
and :class:`StoreFailed` is raised: nothing of the batch remains, nothing is
acknowledged, and the next batch may succeed once space frees. If an ``fdatasync``
fails, the store refuses every later write (the kernel may have dropped the pages).

The head moves to a new segment once it passes ``segment_bytes``. Old segments are
compacted (:mod:`journal_compact`) a slice per commit and deleted. At start every
record is verified and replayed (:mod:`journal_replay`).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from veil.relay.protocol.errors import StoreFailed
from veil.relay.server.logging_setup import LOGGER_NAME, fields
from veil.relay.server.store.base import StoreChange, StoredMessage, StoredQueue
from veil.relay.server.store.journal_compact import Compaction, oldest_sealed, should_compact
from veil.relay.server.store.journal_encode import Effect, encode_batch
from veil.relay.server.store.journal_format import (
    SEGMENT_HEADER,
    encode_commit,
    read_message_body,
    segment_header,
)
from veil.relay.server.store.journal_replay import replay
from veil.relay.server.store.journal_state import JournalState, SegmentInfo
from veil.relay.server.store.journal_sync import GroupSync

__all__ = ["DEFAULT_SEGMENT_BYTES", "JournalStore"]

DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024
_COMPACT_SLICE = 1024 * 1024
"""Bytes of live records compaction adds to one batch at most."""
_COMMIT = encode_commit()
_FILE_MODE = 0o600
_log = logging.getLogger(LOGGER_NAME)


class JournalStore:
    """A :class:`~veil.relay.server.store.base.QueueStore` in a folder of segment files."""

    bodies_on_disk = True

    def __init__(self, folder: Path | str, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self._folder = Path(folder)
        self._segment_bytes = segment_bytes
        self._state = JournalState()
        self._head = 0
        self._head_fd = -1
        self._head_size = 0
        self._folder_fd = -1
        self._sync: GroupSync | None = None
        self._written = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._after_sync: list[tuple[int, Callable[[], None]]] = []
        self._compaction: Compaction | None = None
        self._broken: StoreFailed | None = None
        self._readers: dict[int, int] = {}
        """Read-only descriptors of segments bodies were served from, by number."""
        self.commits = 0
        """Batches made durable so far."""
        self.quarantined_bytes = 0
        """Bytes cut off damaged or torn segment tails at the last open."""

    async def open(self) -> list[StoredQueue]:
        """Verify and replay every segment (cutting damaged tails), then open the head."""
        try:
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            replayed = await asyncio.to_thread(replay, self._folder)
            self._state = replayed.state
            self.quarantined_bytes = replayed.quarantined_bytes
            self._folder_fd = os.open(self._folder, os.O_RDONLY)
            if self._state.segments:
                self._open_head(max(self._state.segments))
            else:
                self._create_head(1)
                os.fsync(self._head_fd)
                os.fsync(self._folder_fd)
        except OSError as exc:
            raise StoreFailed(f"cannot open the queue journal in {self._folder}: {exc}") from exc
        self._sync = GroupSync(asyncio.get_running_loop(), self._synced)
        return replayed.queues

    async def apply(self, changes: Sequence[StoreChange]) -> None:
        """Write ``changes`` as one batch and wait until it is durable."""
        if not changes:
            return
        if self._sync is None:
            raise StoreFailed("store is not open")
        if self._broken is not None:
            raise self._broken
        old_fd = self._rotate_if_full()
        self._start_compaction()
        parts, effects, done = self._copies()
        offset = self._head_size + sum(len(part) for part in parts)
        encode_batch(self._state, self._head, offset, changes, parts=parts, effects=effects)
        parts.append(_COMMIT)
        self._write(b"".join(parts))
        for function, arguments in effects:
            function(*arguments)
        if done is not None:
            self._finish_compaction_after(self._written + 1, done)
        self._written += 1
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((self._written, waiter))
        files = [self._head_fd] if old_fd is None else [self._head_fd, old_fd]
        directories = [] if old_fd is None else [self._folder_fd]
        self._sync.request(self._written, files, directories)
        await waiter

    def read_body(self, recipient_id: bytes, message: StoredMessage) -> bytes:
        """Read a pending message's body from its record, checking the record's CRC.

        A record that fails is never served: ``store.corrupted`` is logged and
        :class:`StoreFailed` raised (the relay drops the message from its queue).
        """
        entry = self._state.queues.get(recipient_id)
        place = (
            None
            if entry is None or entry.messages is None
            else entry.messages.get(message.message_id)
        )
        if place is None:
            _log.error("store.missing_body")  # a bookkeeping fault: say so, serve nothing
            raise StoreFailed("the journal holds no such message")
        number, offset, size = place.location
        try:
            reader = self._readers.get(number)
            if reader is None:
                reader = self._readers[number] = os.open(self._segment_path(number), os.O_RDONLY)
            record = os.pread(reader, size, offset)
        except OSError as exc:
            raise StoreFailed(f"cannot read a message body: {exc.strerror}") from exc
        body = read_message_body(record, recipient_id, message.message_id)
        if body is None:
            _log.error("store.corrupted", extra=fields(segment=f"{number:08d}.seg", offset=offset))
            raise StoreFailed("a stored message failed its checksum; it is not served")
        return body

    async def close(self) -> None:
        """Wait for the batches under way, stop the fsync thread, close the files."""
        if self._waiters:
            await asyncio.gather(*(w for _, w in self._waiters), return_exceptions=True)
        if self._sync is not None:
            self._sync.stop()
            self._sync = None
        if self._compaction is not None:
            self._compaction.close()
            self._compaction = None
        for descriptor in (self._head_fd, self._folder_fd, *self._readers.values()):
            if descriptor >= 0:
                os.close(descriptor)
        self._head_fd = self._folder_fd = -1
        self._readers.clear()

    # -- segments -----------------------------------------------------------------

    def _segment_path(self, number: int) -> Path:
        return self._folder / f"{number:08d}.seg"

    def _open_head(self, number: int) -> None:
        self._head = number
        self._head_fd = os.open(self._segment_path(number), os.O_WRONLY | os.O_APPEND)
        self._head_size = self._state.segments[number].size

    def _create_head(self, number: int) -> None:
        path = self._segment_path(number)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL
        descriptor = os.open(path, flags, _FILE_MODE)
        try:
            if os.write(descriptor, segment_header(number)) != SEGMENT_HEADER.size:
                raise OSError(errno.ENOSPC, "short write of a segment header")
        except OSError:
            # A full disk: leave no headless segment behind to trip the next start.
            os.close(descriptor)
            path.unlink(missing_ok=True)
            raise
        self._head, self._head_fd, self._head_size = number, descriptor, SEGMENT_HEADER.size
        self._state.segments[number] = SegmentInfo(SEGMENT_HEADER.size)

    def _rotate_if_full(self) -> int | None:
        """Start a new head segment if this one is full; return the old one to sync and close."""
        if self._head_size < self._segment_bytes:
            return None
        old = self._head_fd
        try:
            self._create_head(self._head + 1)
        except OSError as exc:
            raise StoreFailed(f"cannot start a journal segment: {exc.strerror}") from exc
        self._after_sync.append((self._written + 1, lambda: os.close(old)))
        return old

    def _write(self, data: bytes) -> None:
        """Append ``data`` to the head; on failure cut the head back and raise."""
        start, view = self._head_size, memoryview(data)
        try:
            while view:
                view = view[os.write(self._head_fd, view) :]
        except OSError as exc:
            try:
                os.ftruncate(self._head_fd, start)
            except OSError as cut_failed:
                self._broken = StoreFailed(f"cannot cut a failed batch: {cut_failed.strerror}")
            reason = f"cannot write the queue journal ({exc.strerror})"
            raise StoreFailed(f"{reason}: free disk space in {self._folder}") from exc
        self._head_size += len(data)
        self._state.segments[self._head].size = self._head_size

    # -- compaction ---------------------------------------------------------------

    def _start_compaction(self) -> None:
        """Drop the oldest segments once nothing in them is live; compact the oldest if due.

        Only ever the oldest: a younger segment may hold the ``DELETE`` of a record
        in an older one, and must outlive it.
        """
        if self._compaction is not None:
            return
        oldest = oldest_sealed(self._state, self._head)
        while oldest is not None and self._state.segments[oldest].live == 0:
            # Unlinked once this batch is durable, so what killed its records is too.
            del self._state.segments[oldest]
            delete = functools.partial(self._delete_segment, oldest)
            self._after_sync.append((self._written + 1, delete))
            oldest = oldest_sealed(self._state, self._head)
        number = should_compact(self._state, self._head, self._segment_bytes)
        if number is None:
            return
        try:
            self._compaction = Compaction.open(
                number, self._segment_path(number), SEGMENT_HEADER.size
            )
        except OSError as exc:
            raise StoreFailed(f"cannot read a journal segment to compact: {exc.strerror}") from exc

    def _copies(self) -> tuple[list[bytes], list[Effect], Compaction | None]:
        """The next slice of live records of the segment being compacted, as parts and effects.

        The third value is the compaction if this slice finishes it.
        """
        compaction = self._compaction
        if compaction is None or compaction.finished:
            return [], [], None
        copies, end = compaction.take(self._state, _COMPACT_SLICE)
        parts: list[bytes] = []
        effects: list[Effect] = []
        offset = self._head_size
        for old, data, recipient_id, message_id in copies:
            parts.append(data)
            new = (self._head, offset, len(data))
            effects.append((self._state.move, (recipient_id, message_id, old, new)))
            offset += len(data)
        effects.append((compaction.advance, (end,)))
        finished = end >= len(compaction.data) and not compaction.broken
        return parts, effects, compaction if finished else None

    def _finish_compaction_after(self, batch: int, compaction: Compaction) -> None:
        """Every live record of the segment is copied: delete it once the copies are durable."""
        self._compaction = None
        self._state.segments.pop(compaction.number, None)

        def delete() -> None:
            compaction.close()
            self._delete_segment(compaction.number)

        self._after_sync.append((batch, delete))

    def _delete_segment(self, number: int) -> None:
        reader = self._readers.pop(number, None)
        if reader is not None:
            os.close(reader)
        self._segment_path(number).unlink(missing_ok=True)

    # -- durability ---------------------------------------------------------------

    def _synced(self, batch: int, error: OSError | None) -> None:
        """On the loop: the fsync thread made every batch up to ``batch`` durable (or failed)."""
        if error is not None:
            self._broken = StoreFailed(f"fsync of the queue journal failed: {error.strerror}")
        ready = [w for w in self._waiters if w[0] <= batch]
        self._waiters = [w for w in self._waiters if w[0] > batch]
        for _, waiter in ready:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(self._broken or StoreFailed("fsync failed"))
        self.commits += 1 if error is None else 0
        due = [task for task in self._after_sync if task[0] <= batch]
        self._after_sync = [task for task in self._after_sync if task[0] > batch]
        for _, task in due:
            task()
