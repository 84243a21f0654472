"""One SQLite file in WAL mode with group commit: what the relay's stores share.

Every :meth:`GroupCommitFile.apply` call queues its changes and waits. While no
commit is under way, everything queued so far is written in ONE transaction and
committed (``synchronous=FULL``: the WAL is fsynced before the commit returns),
then every waiter of that batch wakes; calls made during a commit wait for the
next one. So an answered write is durable (it survives ``kill -9`` and power
loss), and a burst of writes from many connections costs one fsync, not one
each. The blocking work (open, load, COMMIT with its fsync) runs in one dedicated
thread, so the event loop never waits on the disk.

The queue store (:mod:`veil.relay.server.store.sqlite`) and the group-log store
(:mod:`veil.relay.server.log_sqlite`) each give their schema, their loading and
their writing; this module does the rest.
"""

from __future__ import annotations

import abc
import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generic, TypeVar

from veil.relay.protocol.errors import StoreFailed

__all__ = ["GroupCommitFile", "open_wal_file"]

_T = TypeVar("_T")
_Change = TypeVar("_Change")
_Loaded = TypeVar("_Loaded")


def open_wal_file(path: Path, schema: str, newest_format: int, what: str) -> sqlite3.Connection:
    """Open (or create with ``schema`` as format 1) the SQLite file of ``what``, in
    WAL mode with ``synchronous=FULL``; :class:`StoreFailed` if a newer relay wrote it."""
    # Used by the event loop thread and the store thread, never by both at once.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    # FULL: the WAL is fsynced at every commit, so a committed batch survives power loss.
    connection.execute("PRAGMA synchronous=FULL")
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > newest_format:
        connection.close()
        raise StoreFailed(
            f"{what} format {version} is newer than {newest_format}: upgrade this relay"
        )
    if version == 0:
        connection.executescript(f"BEGIN; {schema} PRAGMA user_version = 1; COMMIT;")
    return connection


class GroupCommitFile(abc.ABC, Generic[_Change, _Loaded]):
    """A store in one SQLite file (plus its WAL) whose writes commit in groups."""

    #: Names the store in errors and its thread.
    what = "store"

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._connection: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[tuple[Sequence[_Change], asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None
        self.commits = 0
        """Transactions committed so far (each one fsync)."""

    @abc.abstractmethod
    def _open_file(self, path: Path) -> sqlite3.Connection:
        """Open the file, creating or migrating its schema (in the store thread)."""

    @abc.abstractmethod
    def _load(self, connection: sqlite3.Connection) -> _Loaded:
        """Everything stored, read at start (in the store thread)."""

    @abc.abstractmethod
    def _write(self, connection: sqlite3.Connection, changes: Iterable[_Change]) -> None:
        """Run the statements of ``changes`` inside the open transaction."""

    async def open(self) -> _Loaded:
        """Open or create the database and load everything, off the event loop."""
        thread = f"veil-{self.what.replace(' ', '-')}"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread)
        try:
            connection = await self._in_thread(self._open_file, self._path)
            loaded = await self._in_thread(self._load, connection)
        except sqlite3.Error as exc:
            raise StoreFailed(f"cannot open the {self.what}: {exc}") from exc
        self._connection = connection
        return loaded

    async def apply(self, changes: Sequence[_Change]) -> None:
        """Queue ``changes`` for the next group commit and wait until it is durable."""
        if not changes:
            return
        if self._connection is None:
            raise StoreFailed(f"the {self.what} is not open")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((changes, done))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_pending())
        await done

    async def close(self) -> None:
        """Commit what is queued, then close the file and stop the store thread."""
        if self._committer is not None:
            await self._committer
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._in_thread(connection.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _commit_pending(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                error = await self._commit([changes for changes, _ in batch])
                for _, done in batch:
                    if done.done():
                        continue
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
        finally:
            self._committer = None

    async def _commit(self, batch: list[Sequence[_Change]]) -> StoreFailed | None:
        """Write a batch in one transaction; only the COMMIT (the fsync) leaves the loop.

        The statements themselves run here: they only touch SQLite's page cache,
        and running them in the store thread would cost a GIL hand-off per row.
        """
        connection = self._connection
        assert connection is not None
        try:
            connection.execute("BEGIN")
            self._write(connection, (change for changes in batch for change in changes))
            await self._in_thread(connection.execute, "COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            return StoreFailed(f"{self.what} commit failed: {exc}")
        self.commits += 1
        return None

    async def _in_thread(self, function: Callable[..., _T], *args: Any) -> _T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
