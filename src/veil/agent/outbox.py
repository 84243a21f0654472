"""Running the outbox: pending relay actions, in order per connection, with retries.

Entries are written (:meth:`OutboxRunner.enqueue`) in the caller's transaction, the
one that commits the state change that produced them (see :mod:`veil.agent.delivery`).
:class:`OutboxRunner` runs the due ones: the sends of one connection are pipelined in
order (the relay client batches them into shared blocks), the successful ones are
removed together in one transaction, and the first failure stops that connection's
run — it and everything behind it are retried later with backoff, so messages keep
their order. Each connection's outcome goes to :attr:`OutboxRunner.on_failure` or
:attr:`OutboxRunner.on_delivered` when set (the chat layer logs them as events).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from itertools import groupby

from veil.agent.address import address_send_queue
from veil.agent.delivery import ActionKind, OutboxEntry, next_attempt_at
from veil.agent.effects import Effects, SecurePeerQueue
from veil.agent.queues import QueueState
from veil.agent.relays import RelayPort, RelayUnavailable
from veil.agent.store import AgentStore, AgentTransaction, PendingSend
from veil.crypto import RandomSource

__all__ = ["OutboxRunner"]

_log = logging.getLogger(__name__)
#: Sends of one connection in flight at once.
_PIPELINE = 32
_DUE_LIMIT = 1000


class OutboxRunner:
    """Runs due outbox entries against the relays."""

    def __init__(
        self,
        store: AgentStore,
        relays: RelayPort,
        queues_of: Callable[[int], QueueState],
        *,
        rng: RandomSource,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._relays = relays
        self._queues_of = queues_of
        self._rng = rng
        self._clock = clock
        self._lock = asyncio.Lock()
        # The earliest time an entry can be due: now after an enqueue, the earliest
        # retry after failures, never when everything went out. Saves an empty store
        # transaction per received batch.
        self._wake_at = 0.0
        self.on_failure: Callable[[int, BaseException, int], None] | None = None
        """Told when a connection's run stops on a failed entry: the connection, the
        error, and how many times in a row that entry has failed now."""
        self.on_delivered: Callable[[int], None] | None = None
        """Told when every due entry of a connection went out."""

    def wake(self) -> None:
        """Note that an entry was enqueued: the next :meth:`flush` must look."""
        self._wake_at = 0.0

    def enqueue(self, tx: AgentTransaction, connection_id: int, effects: Effects) -> None:
        """Queue the relay actions of ``effects`` in the outbox, in order."""
        now = self._clock()
        if effects.actions:
            self.wake()
        for action in effects.actions:
            if isinstance(action, SecurePeerQueue):
                entry = OutboxEntry(ActionKind.SECURE_PEER_QUEUE)
            else:
                entry = OutboxEntry(ActionKind.SEND_FRAME, action.frame)
            tx.outbox.enqueue(connection_id, entry.to_bytes(), now)

    def pending(self) -> int:
        """How many entries wait in the outbox, due or not."""
        with self._store.transaction() as tx:
            return len(tx.outbox.due(float("inf"), limit=_DUE_LIMIT))

    def pending_for(self, connection_id: int) -> int:
        """How many entries of one connection still wait for a relay to accept them."""
        with self._store.transaction() as tx:
            due = tx.outbox.due(float("inf"), limit=_DUE_LIMIT)
        return sum(1 for entry in due if entry.connection_id == connection_id)

    def next_timer(self) -> float | None:
        """When an entry may next be due: now after an enqueue, the earliest retry
        after failures, ``None`` while everything went out."""
        return None if self._wake_at == float("inf") else self._wake_at

    async def handle_timer(self, now: float) -> int:
        """Run the entries due at ``now``; return how many completed."""
        return await self._run_due(now)

    async def flush(self, *, force: bool = False) -> int:
        """Run every due entry once (every entry, if ``force``); return how many completed.

        A command the user just ran forces the flush: they expect waiting messages to
        be tried now, whatever the backoff said.
        """
        return await self._run_due(float("inf") if force else self._clock())

    async def _run_due(self, now: float) -> int:
        async with self._lock:
            if now < self._wake_at:
                return 0
            self._wake_at = float("inf")
            with self._store.transaction() as tx:
                due = tx.outbox.due(now, limit=_DUE_LIMIT)
            completed = 0
            for connection_id, group in groupby(
                sorted(due, key=lambda p: (p.connection_id, p.send_id)),
                key=lambda p: p.connection_id,
            ):
                completed += await self._run_connection(connection_id, list(group))
            if len(due) == _DUE_LIMIT:
                self._wake_at = 0.0
            return completed

    async def _run_connection(self, connection_id: int, pending: list[PendingSend]) -> int:
        queues = self._queues_of(connection_id)
        done: list[int] = []
        failed: list[PendingSend] = []
        error: BaseException | None = None
        for start in range(0, len(pending), _PIPELINE):
            window = pending[start : start + _PIPELINE]
            results = await asyncio.gather(
                *(self._run(queues, p) for p in window), return_exceptions=True
            )
            for entry, result in zip(window, results, strict=True):
                if isinstance(result, BaseException):
                    _log.info("relay action failed, will retry: %s", type(result).__name__)
                    failed, error = pending[pending.index(entry) :], result
                    break
                done.append(entry.send_id)
            if failed:
                break
        self._record(done, failed)
        self._report(connection_id, error, failed)
        return len(done)

    def _report(
        self, connection_id: int, error: BaseException | None, failed: list[PendingSend]
    ) -> None:
        if error is not None and self.on_failure is not None:
            self.on_failure(connection_id, error, failed[0].attempts + 1)
        elif error is None and self.on_delivered is not None:
            self.on_delivered(connection_id)

    def _record(self, done: list[int], failed: list[PendingSend]) -> None:
        now = self._clock()
        with self._store.transaction() as tx:
            for send_id in done:
                tx.outbox.remove(send_id)
            for entry in failed:
                retry_at = next_attempt_at(entry.attempts, now, self._rng)
                tx.outbox.retry_later(entry.send_id, retry_at)
                self._wake_at = min(self._wake_at, retry_at)

    async def _run(self, queues: QueueState, pending: PendingSend) -> None:
        entry = OutboxEntry.from_bytes(pending.body)
        if entry.kind is ActionKind.SEND_TO_ADDRESS:
            assert entry.address is not None
            await self._relays.send(
                address_send_queue(entry.address, entry.address_key), entry.frame
            )
            return
        send = queues.send
        if send is None:
            raise RelayUnavailable("the connection has no send queue yet")
        if entry.kind is ActionKind.SECURE_PEER_QUEUE:
            await self._relays.secure_peer_queue(send)
        else:
            await self._relays.send(send, entry.frame)
