"""One chunk body being uploaded: appended piece by piece, acknowledged only when durable.

Pieces go to a ``.part`` file as they arrive (memory stays at one piece). Finishing
checks the size and digest the chunk was registered with, fsyncs the file, renames it
into place and fsyncs the folder, in that order, so a body that has its final name
is whole and survives ``kill -9`` and power loss; a ``.part`` file left by a crash is
removed when the store opens. A full disk is :class:`DiskFull`, never a silent loss.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from veil.crypto.primitives import constant_time_equal
from veil.files.errors import DiskFull, UploadMismatch
from veil.relay.server.file_store_format import BodyHeader, encode_body_header

__all__ = ["BodyUpload", "fsync_dir"]

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


@contextmanager
def _disk_full_is_explicit() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise DiskFull("the relay's disk is full; retry the upload later") from exc
        raise


class BodyUpload:
    """An upload in progress. Call :meth:`write` per piece, then :meth:`finish`
    (or :meth:`abort`); any error aborts it and leaves nothing behind."""

    __slots__ = ("_final", "_handle", "_hasher", "_header", "_temp", "received")

    def __init__(self, temp: Path, final: Path, header: BodyHeader) -> None:
        self._temp = temp
        self._final = final
        self._header = header
        self._hasher = hashlib.sha256()
        self.received = 0
        with _disk_full_is_explicit():
            self._handle: BinaryIO = temp.open("wb")
            self._handle.write(encode_body_header(header))

    @property
    def size(self) -> int:
        """The registered size of the body."""
        return self._header.size

    def write(self, piece: bytes) -> None:
        """Append the next piece; :class:`UploadMismatch` if it passes the registered size."""
        if self.received + len(piece) > self._header.size:
            self.abort()
            raise UploadMismatch("the body is longer than its registered size")
        try:
            with _disk_full_is_explicit():
                self._handle.write(piece)
        except BaseException:
            self.abort()
            raise
        self._hasher.update(piece)
        self.received += len(piece)

    def finish(self) -> None:
        """Check size and digest, then make the body durable under its final name."""
        try:
            whole = self.received == self._header.size
            if not whole or not constant_time_equal(self._hasher.digest(), self._header.digest):
                raise UploadMismatch("the body does not match its registered size and digest")
            with _disk_full_is_explicit():
                self._handle.flush()
                os.fsync(self._handle.fileno())
                self._handle.close()
                os.replace(self._temp, self._final)
                fsync_dir(self._final.parent)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the upload: nothing of it stays on disk."""
        self._handle.close()
        self._temp.unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a rename, an unlink) durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
