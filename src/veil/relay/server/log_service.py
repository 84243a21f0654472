"""Group logs served on a relay: the asyncio adapter of the log core and its store.

:class:`GroupLogService` is a :class:`~veil.relay.server.service.CommandExtension`
of the relay service: it takes the group-log commands (tags ``0x30..0x3F``) and
passes every other command to the extension it wraps (``inner``, private routing
on a full relay). Its steps' changes go to its own :class:`LogStore` in group
commits (while one commit runs, the next batch piles up), and only then are they
committed in the core, whose answers the relay service writes after ``wake()``.
One task runs the log core's retention sweep.

The relay service opens only its queue store, so :class:`QueueStoreWithLogs`
wraps that store: opening it also opens the log store and loads the logs, before
the relay serves anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from veil.crypto import RandomSource
from veil.relay.protocol.log_commands import LOG_COMMAND_TAGS
from veil.relay.protocol.transmission import Transmission
from veil.relay.server.core import RelayProtocol
from veil.relay.server.log_commit import LogStep
from veil.relay.server.log_core import LogProtocol
from veil.relay.server.log_state import LogSettings
from veil.relay.server.log_store import LogStore
from veil.relay.server.service import CommandExtension
from veil.relay.server.session import SessionState
from veil.relay.server.settings import RelaySettings
from veil.relay.server.steps import Step
from veil.relay.server.store.base import QueueStore, StoreChange, StoredQueue

__all__ = ["GroupLogService", "QueueStoreWithLogs"]

_log = logging.getLogger("veil.relay")
_Queued = tuple[SessionState | None, Transmission | None, LogStep]


class _Committing:
    """The outcome handed to the relay service for a log step that commits here."""


_COMMITTING = _Committing()


class GroupLogService:
    """Serves group-log commands; everything else goes to ``inner``."""

    def __init__(
        self,
        core: RelayProtocol,
        wake: Callable[[], None],
        store: LogStore,
        settings: RelaySettings,
        *,
        rng: RandomSource,
        clock: Callable[[], float],
        log_settings: LogSettings | None = None,
        inner: CommandExtension | None = None,
    ) -> None:
        self.logs = LogProtocol(
            settings, log_settings or LogSettings(), rng, core.metrics, core.answer_body
        )
        self.inner = inner
        self._store = store
        self._wake = wake
        self._clock = clock
        self._queued: list[_Queued] = []
        self._work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Open the log store, load every log, and start committing and sweeping."""
        self.logs.load(await self._store.open())
        self._tasks = [
            asyncio.create_task(self._commit_forever()),
            asyncio.create_task(self._sweep_forever()),
        ]

    # -- CommandExtension ----------------------------------------------------------

    def handles(self, transmission: Transmission) -> bool:
        """Group-log commands, and whatever ``inner`` handles."""
        if transmission.body[0] in LOG_COMMAND_TAGS:
            return True
        return self.inner is not None and self.inner.handles(transmission)

    def handle(self, session: SessionState, transmission: Transmission, now: float) -> Step:
        """Run a group-log command; one that changes the store commits here, later."""
        if transmission.body[0] not in LOG_COMMAND_TAGS:
            assert self.inner is not None  # handles() said so
            return self.inner.handle(session, transmission, now)
        step = self.logs.handle(session, transmission, now)
        if not step.changes:
            return Step((), step)
        self._enqueue(session, transmission, step)
        return Step((), _COMMITTING)

    def commit(self, step: Step) -> None:
        """Commit a log step that needed no store (the others commit here)."""
        outcome = step.outcome
        if isinstance(outcome, LogStep):
            self.logs.commit(outcome)
        elif not isinstance(outcome, _Committing) and self.inner is not None:
            self.inner.commit(step)

    def undo(self, step: Step) -> None:
        """Log steps never reach the relay store; undo ``inner``'s."""
        if not isinstance(step.outcome, LogStep | _Committing) and self.inner is not None:
            self.inner.undo(step)

    def close_session(self, session: SessionState) -> None:
        """The connection's subscriptions end; ``inner`` forgets it too."""
        self.logs.close_session(session)
        if self.inner is not None:
            self.inner.close_session(session)

    async def close(self) -> None:
        """Stop sweeping, finish pending commits, close the log store and ``inner``."""
        for task in self._tasks[1:]:
            task.cancel()
        if self._tasks:
            await self._idle.wait()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._store.close()
        if self.inner is not None:
            await self.inner.close()

    # -- commits and the sweep -------------------------------------------------------

    def _enqueue(
        self, session: SessionState | None, transmission: Transmission | None, step: LogStep
    ) -> None:
        self._queued.append((session, transmission, step))
        self._idle.clear()
        self._work.set()

    async def _commit_forever(self) -> None:
        while True:
            await self._work.wait()
            self._work.clear()
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    await self._commit(batch)
                except Exception:
                    # A bug must not stall every log behind it: log and go on.
                    _log.exception("group-log commit loop failed on a batch")
                self._wake()
            self._idle.set()

    async def _commit(self, batch: list[_Queued]) -> None:
        """Make a batch durable, then commit its steps in order; undo all if it failed."""
        changes = [change for _, _, step in batch for change in step.changes]
        try:
            await self._store.apply(changes)
        except Exception:
            _log.exception("group-log store commit failed")
            for _, _, step in reversed(batch):
                self.logs.undo(step)
            for session, transmission, _ in batch:
                if session is not None and transmission is not None:
                    self.logs.reply_internal_error(session, transmission)
            return
        for _, _, step in batch:
            self.logs.commit(step)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self.logs.next_timer() - self._clock()))
            step = self.logs.handle_timer(self._clock())
            if step is not None:
                self._enqueue(None, None, step)


class QueueStoreWithLogs:
    """The relay's queue store, opened together with the group logs.

    Opening it first starts ``logs`` (opening the log store); every other call goes
    to ``queues``. The log store is closed by :meth:`GroupLogService.close`.
    """

    def __init__(self, queues: QueueStore, logs: Callable[[], GroupLogService | None]) -> None:
        self._queues = queues
        self._logs = logs

    async def open(self) -> list[StoredQueue]:
        """Start the group logs, then open the queue store."""
        logs = self._logs()
        if logs is not None:
            await logs.start()
        return await self._queues.open()

    async def apply(self, changes: Sequence[StoreChange]) -> None:
        """Queue changes go to the queue store."""
        await self._queues.apply(changes)

    async def close(self) -> None:
        """Close the queue store."""
        await self._queues.close()
