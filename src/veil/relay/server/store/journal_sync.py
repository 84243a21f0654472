"""Group fsync for the queue journal: one thread makes written batches durable.

The event loop writes each batch into the page cache itself (cheap) and calls
:meth:`GroupSync.request` with the batch's number; one thread runs ``fdatasync``
on the files written since its last one and reports the highest batch it covered
back to the loop with a single ``call_soon_threadsafe``. Batches written while a
sync runs share the next one, so a burst costs one sync, and the loop never waits
on the disk nor pays a thread hand-off per batch.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterable

__all__ = ["GroupSync"]

SyncDone = Callable[[int, OSError | None], None]
"""Called on the loop with the highest batch made durable, or the error that stopped it."""


class GroupSync:
    """A thread that fsyncs on request and reports back on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, done: SyncDone) -> None:
        self._loop = loop
        self._done = done
        self._condition = threading.Condition()
        self._wanted = 0
        self._descriptors: set[int] = set()
        self._directories: set[int] = set()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="veil-relay-fsync", daemon=True)
        self._thread.start()

    def request(self, batch: int, files: Iterable[int], directories: Iterable[int] = ()) -> None:
        """Make what was written to ``files`` (and ``directories``) up to ``batch`` durable."""
        with self._condition:
            self._wanted = max(self._wanted, batch)
            self._descriptors.update(files)
            self._directories.update(directories)
            self._condition.notify()

    def stop(self) -> None:
        """Finish the sync under way (and any requested), then end the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        self._thread.join()

    def _run(self) -> None:
        synced = 0
        while True:
            with self._condition:
                while self._wanted == synced and not self._stopping:
                    self._condition.wait()
                if self._wanted == synced:
                    return
                target = self._wanted
                descriptors, self._descriptors = self._descriptors, set()
                directories, self._directories = self._directories, set()
            error = _sync(descriptors, directories)
            synced = target
            try:
                self._loop.call_soon_threadsafe(self._done, target, error)
            except RuntimeError:
                return  # the loop closed under us: nobody waits any more


def _sync(descriptors: set[int], directories: set[int]) -> OSError | None:
    try:
        for descriptor in descriptors:
            os.fdatasync(descriptor)
        for directory in directories:
            os.fsync(directory)
    except OSError as exc:
        return exc
    return None
