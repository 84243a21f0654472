"""One receiver per profile.

A relay delivers a queue's messages to one subscription at a time: a second
process subscribing to the same queues (``veil receive`` beside an open ``veil
chat`` on the same home) takes the deliveries over, and the first one silently
stops receiving. :class:`ReceiveLock` makes the second process refuse to start
instead, with a message that says which one holds the profile.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from veil.chat.errors import ProfileBusy

__all__ = ["LOCK_FILE", "ReceiveLock"]

LOCK_FILE = "receiving.lock"


class ReceiveLock:
    """An exclusive, non-blocking lock on ``home``'s receive side, held while a
    process receives; the operating system releases it if the process dies."""

    def __init__(self, home: Path) -> None:
        self._path = home / LOCK_FILE
        self._descriptor: int | None = None

    def __enter__(self) -> ReceiveLock:
        descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise ProfileBusy(
                "another veil process (an open `veil chat` or `veil receive`) is receiving "
                "for this profile; a second one would take its messages over. Use that one, "
                "or close it first."
            ) from None
        self._descriptor = descriptor
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing releases the lock
            self._descriptor = None
