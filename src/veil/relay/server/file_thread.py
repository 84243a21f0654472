"""The relay's chunk store on its own thread, and what its errors answer on the wire.

:class:`~veil.relay.server.file_store.FileChunkStore` is synchronous (SQLite, fsync),
so the relay runs it on one worker thread: the store is opened there, every call
goes there in order, and the event loop never waits on the disk. Expired chunks are
swept at most once per ``sweep_seconds``, before the next call that comes after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from veil.files.errors import (
    ChunkCorrupted,
    ChunkNotFound,
    DiskFull,
    FileProtocolError,
    StoreQuotaExceeded,
    UploadMismatch,
)
from veil.relay.protocol.errors import (
    BadCommand,
    ChunkMismatch,
    CommandError,
    InternalError,
    NoChunk,
    QuotaExceeded,
    RelayDiskFull,
)
from veil.relay.server.file_store import FileChunkStore

__all__ = ["StoreThread", "answer_for"]

_log = logging.getLogger("veil.relay")
_T = TypeVar("_T")


class StoreThread:
    """One worker thread that owns the chunk store."""

    def __init__(
        self,
        open_store: Callable[[], FileChunkStore],
        clock: Callable[[], float],
        sweep_seconds: float = 3600.0,
    ) -> None:
        self._open_store = open_store
        self._clock = clock
        self._sweep_seconds = sweep_seconds
        self._next_sweep = 0.0
        self._store: FileChunkStore | None = None
        """Touched only on the worker thread."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veil-files")
        self._closed = False

    async def call(self, work: Callable[[FileChunkStore], _T]) -> _T:
        """Run ``work(store)`` on the worker thread, after any earlier call."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, work)

    def submit(self, work: Callable[[FileChunkStore], object]) -> None:
        """Queue ``work(store)`` without waiting for it (cleanup of a closed connection)."""
        if not self._closed:
            self._executor.submit(self._run, work)

    def _run(self, work: Callable[[FileChunkStore], _T]) -> _T:
        if self._store is None:
            self._store = self._open_store()
        now = self._clock()
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_seconds
            removed = self._store.expire()
            if removed:
                _log.info("file store expired %d entries", removed)
        return work(self._store)

    async def close(self) -> None:
        """Finish queued calls, close the store and stop the thread (once)."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_store)
        self._executor.shutdown(wait=True)

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def answer_for(exc: Exception) -> CommandError:
    """The ``ERR`` a failure of a file command answers (``files.md`` section 8)."""
    if isinstance(exc, CommandError):
        return exc
    for cause, answer in _ANSWERS:
        if isinstance(exc, cause):
            return answer(str(exc))
    _log.error("file command failed", exc_info=exc)
    return InternalError("the file store failed")


_ANSWERS: tuple[tuple[type[Exception], type[CommandError]], ...] = (
    (StoreQuotaExceeded, QuotaExceeded),
    (DiskFull, RelayDiskFull),
    (UploadMismatch, ChunkMismatch),
    (ChunkNotFound, NoChunk),
    (ChunkCorrupted, NoChunk),
    (FileProtocolError, BadCommand),
)
