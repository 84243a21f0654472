"""The bot's cursor: the sequence number of the last event it handled, on disk.

The bot saves the cursor after each event it handled, so a restarted bot
subscribes from there and neither misses an event nor handles one twice (only the
event whose handler was running when the process was killed can run again). The
file is replaced atomically and held with ``flock`` so two bots never share it.

Format: one line of JSON, ``{"version": 1, "last_seq": N}``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import IO

from veil.bot.errors import BotAlreadyRunning, CursorUnreadable

__all__ = ["CURSOR_VERSION", "Cursor", "decode_cursor", "encode_cursor"]

CURSOR_VERSION = 1
#: A cursor file is one short line; anything longer is not one.
MAX_CURSOR_BYTES = 256


def encode_cursor(last_seq: int) -> bytes:
    """The file's bytes for ``last_seq``."""
    return json.dumps({"version": CURSOR_VERSION, "last_seq": last_seq}).encode() + b"\n"


def decode_cursor(data: bytes) -> int:
    """The ``last_seq`` in a cursor file's bytes; :class:`CursorUnreadable` if they
    are not exactly one cursor."""
    if len(data) > MAX_CURSOR_BYTES:
        raise CursorUnreadable(f"the cursor file is {len(data)} bytes, not a bot cursor")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CursorUnreadable(
            f"the cursor file is not JSON ({exc}); delete it to start over"
        ) from exc
    if not isinstance(value, dict) or set(value) != {"version", "last_seq"}:
        raise CursorUnreadable("the cursor file is not a bot cursor; delete it to start over")
    last_seq = value["last_seq"]
    if value["version"] != CURSOR_VERSION:
        raise CursorUnreadable(f"cursor version {value['version']!r} is not {CURSOR_VERSION}")
    if not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0:
        raise CursorUnreadable(f"the cursor holds {last_seq!r}, not a sequence number")
    return last_seq


class Cursor:
    """The cursor file at ``path``, locked while the bot runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[bytes] | None = None
        self.last_seq: int | None = None

    def open(self) -> int | None:
        """Lock the cursor and read it: the last handled seq, or ``None`` for a new bot.

        :class:`BotAlreadyRunning` if another process holds it."""
        lock = self.path.with_name(self.path.name + ".lock").open("ab")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.close()
            raise BotAlreadyRunning(f"another bot uses {self.path}; stop it first") from exc
        self._lock = lock
        try:
            self.last_seq = decode_cursor(self.path.read_bytes())
        except FileNotFoundError:
            self.last_seq = None
        return self.last_seq

    def save(self, last_seq: int) -> None:
        """Record that every event up to ``last_seq`` was handled (atomically)."""
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_bytes(encode_cursor(last_seq))
        os.replace(partial, self.path)
        self.last_seq = last_seq

    def close(self) -> None:
        """Release the lock."""
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.close()
            self._lock = None
