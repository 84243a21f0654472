"""Group fsync for the queue journal: one thread makes written batches durable.

The event loop writes each batch into the page cache itself (cheap) and calls
:meth:`GroupSync.request` with the batch's number; one thread runs ``fdatasync``
on the files written since its last one and reports the highest batch it covered
back to the loop with a single ``call_soon_threadsafe``. Batches written while a
sync runs share the next one, so a burst costs one sync, and the loop never waits
on the disk. Requests travel through a ``SimpleQueue`` (C code, no Python-level lock
or condition), so asking costs the loop next to nothing.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable, Iterable

__all__ = ["GroupSync"]

SyncDone = Callable[[int, OSError | None], None]
"""Called on the loop with the highest batch made durable, or the error that stopped it."""

_Request = tuple[int, tuple[int, ...], tuple[int, ...]] | None
"""(batch, files, directories), or ``None``: stop."""


class GroupSync:
    """A thread that fsyncs on request and reports back on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, done: SyncDone) -> None:
        self._loop = loop
        self._done = done
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="veil-relay-fsync", daemon=True)
        self._thread.start()

    def request(self, batch: int, files: Iterable[int], directories: Iterable[int] = ()) -> None:
        """Make what was written to ``files`` (and ``directories``) up to ``batch`` durable."""
        self._requests.put((batch, tuple(files), tuple(directories)))

    def stop(self) -> None:
        """Finish the syncs requested so far, then end the thread."""
        self._requests.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._requests.get()
            if first is None:
                return
            # Everything asked meanwhile shares this one sync.
            pending, stopping = [first], False
            while not self._requests.empty():
                more = self._requests.get_nowait()
                if more is None:
                    stopping = True
                    break
                pending.append(more)
            target = max(batch for batch, _, _ in pending)
            files = {descriptor for _, found, _ in pending for descriptor in found}
            directories = {descriptor for _, _, found in pending for descriptor in found}
            error = _sync(files, directories)
            try:
                self._loop.call_soon_threadsafe(self._done, target, error)
            except RuntimeError:
                return  # the loop closed under us: nobody waits any more
            if stopping:
                return


def _sync(files: set[int], directories: set[int]) -> OSError | None:
    try:
        for descriptor in files:
            os.fdatasync(descriptor)
        for descriptor in directories:
            os.fsync(descriptor)
    except OSError as exc:
        return exc
    return None
