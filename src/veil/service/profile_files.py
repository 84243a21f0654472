"""Where a profile's service lives on disk: its socket, its token and its lock.

All three sit in the profile folder next to the encrypted store. The token file
and the socket are created with mode 0600 (only the user can reach the API), and
a token file that others can read is refused rather than trusted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from veil.service.errors import ServiceAlreadyRunning, ServiceNotRunning

__all__ = ["LOCK_FILE", "SOCKET_FILE", "TOKEN_FILE", "hold_lock", "read_token", "write_token"]

SOCKET_FILE = "service.sock"
TOKEN_FILE = "service.token"  # noqa: S105 (a file name)
LOCK_FILE = "service.lock"
_PRIVATE = 0o600


def write_token(home: Path, token: str) -> None:
    """Write ``token`` to the profile's token file, readable by the user alone."""
    path = home / TOKEN_FILE
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(token + "\n")


def read_token(home: Path) -> str:
    """The profile's API token; :class:`ServiceNotRunning` if there is none or if
    anyone but the user could read it."""
    path = home / TOKEN_FILE
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise ServiceNotRunning(f"no service token in {home}: start `veil serve`") from exc
    if stat.S_IMODE(mode) & 0o077:
        raise ServiceNotRunning(f"{path} is readable by others: `chmod 600 {path}`")
    return text.strip()


@contextlib.contextmanager
def hold_lock(home: Path) -> Iterator[None]:
    """Hold the profile's service lock while the block runs; one service per profile."""
    descriptor = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, _PRIVATE)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ServiceAlreadyRunning(
                f"a `veil serve` (or a command that opened the store itself) runs for "
                f"{home}: stop it first (SIGTERM for `veil serve`)"
            ) from exc
        yield
    finally:
        os.close(descriptor)
