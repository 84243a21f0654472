"""The relay service: the asyncio adapter of the queue core, its store and its sessions.

The network server (``veil.relay.server.tls_server``) owns sockets and TLS; for every
connection it calls :meth:`RelayService.open_session` with the connection's
``write``, sends ``session.hello`` and feeds each received block to
:meth:`RelaySession.handle_block`. The service feeds the sans-I/O core
(:class:`~veil.relay.server.core.RelayProtocol`), commits the steps it returns
to the store, and writes what the core queued to each session's ``write``.
Commands of one block are committed to the store together, and the store batches
the commits of all connections (group commit), so a write is answered only once
it is durable without one fsync each. One timer runs the core's retention sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

from veil.crypto import Ed25519KeyPair, RandomSource
from veil.relay.protocol.handshake import RELAY_VERSIONS, decode_client_hello, sign_server_hello
from veil.relay.protocol.transmission import Transmission, decode_client_transmission
from veil.relay.server.core import RelayProtocol
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.session import SessionState
from veil.relay.server.settings import RelaySettings
from veil.relay.server.steps import Step
from veil.relay.server.store.base import QueueStore
from veil.wire.blocks import decode_block

__all__ = ["CommandExtension", "ExtensionFactory", "RelayService", "RelaySession"]

_log = logging.getLogger("veil.relay")


class CommandExtension(Protocol):
    """Commands a layer above serves on the relay's sessions (private routing does).

    The service hands it every transmission it :meth:`handles`, instead of the
    queue core, and gives each step it returned back to its :meth:`commit` or
    :meth:`undo`; the extension may run commands through the core itself.
    """

    def handles(self, transmission: Transmission) -> bool:
        """Whether ``transmission`` carries one of the extension's commands."""
        ...

    def handle(self, session: SessionState, transmission: Transmission, now: float) -> Step:
        """Run one of its commands as far as it can go before the store commits."""
        ...

    def commit(self, step: Step) -> None:
        """Carry out a step it made, now that its changes are durable."""
        ...

    def undo(self, step: Step) -> None:
        """Revert a step it made whose changes never became durable."""
        ...

    def close_session(self, session: SessionState) -> None:
        """Forget what it kept for a connection that ended."""
        ...

    async def close(self) -> None:
        """Release what it holds (connections it opened) when the relay stops."""
        ...


ExtensionFactory = Callable[[RelayProtocol, Callable[[], None]], CommandExtension]
"""Makes the extension from the service's queue core and a ``wake`` function: the
extension calls ``wake()`` after it queued answers on the core outside a command
(from the network), so the service sends them."""


class _Committer(Protocol):
    def commit(self, step: Step) -> None: ...

    def undo(self, step: Step) -> None: ...


class RelayService:
    """One relay: live queues in memory, durable in ``store``, served to many sessions."""

    def __init__(
        self,
        store: QueueStore,
        settings: RelaySettings,
        identity: Ed25519KeyPair,
        *,
        clock: Callable[[], float],
        rng: RandomSource,
        metrics: RelayMetrics | None = None,
        extension: ExtensionFactory | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else RelayMetrics()
        self._store = store
        self._identity = identity
        self._clock = clock
        self._protocol = RelayProtocol(settings, rng, self.metrics)
        if store.bodies_on_disk:
            self._protocol.body_reader = store.read_body
        wake = self._write_soon
        self._extension = None if extension is None else extension(self._protocol, wake)
        self._writers: dict[SessionState, Callable[[bytes], None]] = {}
        self._write_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._expiry_task: asyncio.Task[None] | None = None
        self._committer: asyncio.Task[None] | None = None
        self._queued: list[_Block] = []
        self._work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def extension(self) -> CommandExtension | None:
        """The extension serving commands beyond the queues, if one was plugged in."""
        return self._extension

    async def start(self) -> None:
        """Load every queue and pending message from the store; arm the expiry timer."""
        self._protocol.load(await self._store.open())
        self._committer = asyncio.create_task(self._commit_forever())
        self._expiry_task = asyncio.create_task(self._expire_on_timer())
        _log.info("relay started queues=%d", self.metrics.queues)

    async def close(self) -> None:
        """Stop the expiry timer and close the store (pending commits finish first)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await _cancel(self._expiry_task)
        self._expiry_task = None
        await self.settle()
        await _cancel(self._committer)
        self._committer = None
        await self._store.close()
        if self._extension is not None:
            await self._extension.close()

    async def settle(self) -> None:
        """Wait until every accepted command has committed and been answered."""
        await self._idle.wait()

    def open_session(self, write: Callable[[bytes], None]) -> RelaySession:
        """Start serving one connection; ``write`` sends one block to it."""
        state = self._protocol.open_session()
        self._writers[state] = write
        return RelaySession(self, state)

    async def expire(self) -> None:
        """Run one retention sweep now (the timer runs one whenever the core asks)."""
        await self._sweep(self._protocol.expire(self._clock()))

    async def _sweep(self, step: Step) -> None:
        await self._store.apply(step.changes)
        self._protocol.commit(step)
        self._write()
        _log.info("expiry sweep done expired_total=%d", self.metrics.messages_expired)

    async def _expire_on_timer(self) -> None:
        """Sweep each time the core's timer is due; the one timer of this adapter."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.create_future()
            delay = max(0.0, self._protocol.next_timer() - self._clock())
            self._timer = loop.call_later(delay, due.set_result, None)
            await due
            step = self._protocol.handle_timer(self._clock())
            if step is None:
                continue
            try:
                await self._sweep(step)
            except Exception:
                # Any failure (not only StoreFailed) must leave the sweep running.
                _log.exception("expiry sweep failed; retrying next interval")

    def _write_soon(self) -> None:
        """Send what the core queued, once this event-loop turn is over (batched)."""
        if not self._write_scheduled:
            self._write_scheduled = True
            asyncio.get_running_loop().call_soon(self._write)

    def _write(self) -> None:
        """Write every block the core queued to its session's connection."""
        self._write_scheduled = False
        for session, blocks in self._protocol.data_to_send():
            write = self._writers.get(session)
            if write is None:
                continue
            try:
                for block in blocks:
                    write(block)
            except Exception:
                # One broken connection must not keep the others from their answers.
                _log.exception("write failed; closing the session")
                self._close_session(session)

    def _handle(self, session: SessionState, transmission: Transmission, now: float) -> _Pending:
        """One command: the extension's to the extension, the rest to the queues."""
        extension = self._extension
        if extension is not None and extension.handles(transmission):
            return transmission, extension.handle(session, transmission, now), extension
        return transmission, self._protocol.handle(session, transmission, now), self._protocol

    def _close_session(self, session: SessionState) -> None:
        self._writers.pop(session, None)
        self._protocol.close_session(session)
        if self._extension is not None:
            self._extension.close_session(session)

    def _sign_hello(self, session_id: bytes, session_key: bytes) -> bytes:
        hello = sign_server_hello(self._identity, RELAY_VERSIONS, session_id, session_key)
        return hello.encode()

    def _submit(self, session: SessionState, pending: list[_Pending]) -> asyncio.Future[None]:
        """Queue a block's commands for the next commit; the future resolves once answered."""
        done = asyncio.get_running_loop().create_future()
        self._queued.append((session, pending, done))
        self._idle.clear()
        self._work.set()
        return done

    async def _commit_forever(self) -> None:
        """Commit everything queued meanwhile in one store call, over and over.

        While one commit is under way, blocks from every connection pile up in
        ``_queued`` and go together into the next one (group commit).
        """
        while True:
            await self._work.wait()
            self._work.clear()
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    await self._commit(batch)
                except Exception:
                    # A bug must not stall every connection behind it: log and go on.
                    _log.exception("commit loop failed on a batch")
                finally:
                    for _, _, done in batch:
                        if not done.done():
                            done.set_result(None)
            self._idle.set()

    async def _commit(self, batch: list[_Block]) -> None:
        """Make a batch of blocks durable, then finish their commands in order.

        If the store raises anything, commands that needed it are rolled back and
        answered ``ERR INTERNAL``; nothing is ever answered ``OK`` without being durable.
        """
        changes = [
            change for _, pending, _ in batch for _, step, _ in pending for change in step.changes
        ]
        try:
            await self._store.apply(changes)
        except Exception:
            # Whatever the store raised (StoreFailed, an unwrapped driver error, a bug),
            # nothing is known to be durable: undo and answer as for StoreFailed.
            # Cancellation is a BaseException and passes through.
            _log.exception("store commit failed")
            self._fail(batch)
        else:
            self.metrics.store_commits += 1
            for _, pending, _ in batch:
                for _, step, committer in pending:
                    committer.commit(step)
        self._write()

    def _fail(self, batch: list[_Block]) -> None:
        """Undo a batch whose commit failed, then answer each of its commands.

        Each rollback restores what its step saw, so they run newest first across the
        whole batch: two ``ACK`` of one queue then put their messages back where they
        were, and two record changes leave the record the store still has.
        """
        steps = [(s, c) for _, pending, _ in batch for _, s, c in pending if s.changes]
        for step, committer in reversed(steps):
            committer.undo(step)
        for session, pending, _ in batch:
            for transmission, step, committer in pending:
                if step.changes:
                    self._protocol.reply_internal_error(session, transmission)
                else:
                    committer.commit(step)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


_Pending = tuple[Transmission, Step, _Committer]
_Block = tuple[SessionState, list[_Pending], "asyncio.Future[None]"]


class RelaySession:
    """One connection's view of the relay.

    ``hello`` is the block to send first. Every later block received goes to
    :meth:`handle_block`, which raises a :class:`veil.errors.ProtocolError`
    subclass when the connection must be closed (malformed block or transmission,
    bad client hello, no common version); the caller then calls :meth:`close`.
    """

    def __init__(self, service: RelayService, state: SessionState) -> None:
        self._service = service
        self._state = state
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.version: int | None = None
        """The agreed relay protocol version, once the client hello arrived."""

    @property
    def hello(self) -> bytes:
        """The hello block to send first; built on demand so no session keeps 16 KiB."""
        return self._service._sign_hello(self._state.session_id, self._state.session_key.public)

    @property
    def session_id(self) -> bytes:
        """The random id every command of this session is bound to."""
        return self._state.session_id

    @property
    def subscribed(self) -> bool:
        """True while this connection receives some queue's messages."""
        return bool(self._state.subscriptions)

    async def handle_block(self, block: bytes) -> None:
        """Process one received block; answers and pushes leave through ``write``.

        Returns once the block's commands are under way; it waits only when this
        connection already has ``max_pipelined_blocks`` blocks waiting for the store.
        """
        if self._state.closed:
            return
        if self.version is None:
            self._accept_client_hello(block)
            return
        # Decode everything before acting on anything, so a malformed block changes nothing.
        transmissions = [decode_client_transmission(data) for data in decode_block(block)]
        service = self._service
        now = service._clock()
        pending = [service._handle(self._state, t, now) for t in transmissions]
        if not any(step.changes for _, step, _ in pending):
            for _, step, committer in pending:
                committer.commit(step)
            service._write()
            return
        waiting = self._waiting
        waiting.append(service._submit(self._state, pending))
        service._write()  # deliveries that did not need to wait for the commit
        while waiting and waiting[0].done():
            waiting.popleft()
        if len(waiting) >= service.settings.max_pipelined_blocks:
            await waiting.popleft()

    def _accept_client_hello(self, block: bytes) -> None:
        hello = decode_client_hello(block)
        self.version = self._state.version = RELAY_VERSIONS.agree(hello.versions)

    def close(self) -> None:
        """End the session: its subscriptions lapse and nothing more is pushed.

        Commands already accepted still commit; only their answers are dropped.
        """
        self._service._close_session(self._state)
