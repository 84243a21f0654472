"""The relay service: the queue protocol, its store and the sessions, tied together.

The network server (``veil.relay.server``) owns sockets and TLS; for every
connection it calls :meth:`RelayService.open_session`, sends ``session.hello``,
feeds each received block to :meth:`RelaySession.handle_block` and writes every
block handed to its ``push`` callback. Commands of one block are committed to the
store together, and the store batches the commits of all connections (group
commit), so a write is answered only once it is durable without one fsync each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from veil.crypto import Ed25519KeyPair, RandomSource
from veil.relay.errors import StoreFailed
from veil.relay.handshake import RELAY_VERSIONS, decode_client_hello, sign_server_hello
from veil.relay.metrics import RelayMetrics
from veil.relay.protocol import RelayProtocol, Step
from veil.relay.session_state import SessionState
from veil.relay.settings import RelaySettings
from veil.relay.store.base import QueueStore
from veil.relay.transmission import Transmission, decode_transmission
from veil.wire.blocks import decode_block

__all__ = ["RelayService", "RelaySession"]

_log = logging.getLogger("veil.relay")


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
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else RelayMetrics()
        self._store = store
        self._identity = identity
        self._clock = clock
        self._protocol = RelayProtocol(settings, rng, self.metrics)
        self._expiry_task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Load every queue and pending message from the store; start the expiry sweep."""
        self._protocol.load(await self._store.open())
        self._expiry_task = asyncio.create_task(self._expire_periodically())
        _log.info("relay started queues=%d", self.metrics.queues)

    async def close(self) -> None:
        """Stop the expiry sweep and close the store (pending commits finish first)."""
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_task
            self._expiry_task = None
        await self.settle()
        await self._store.close()

    async def settle(self) -> None:
        """Wait until every accepted command has committed and been answered."""
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))

    def open_session(self, push: Callable[[bytes], None]) -> RelaySession:
        """Start serving one connection; ``push`` receives every outgoing block."""
        return RelaySession(self, self._protocol.open_session(push))

    async def expire(self) -> None:
        """Run one retention sweep now (the periodic task calls this too)."""
        step = self._protocol.expire(self._clock())
        await self._store.apply(step.changes)
        _log.info("expiry sweep done expired_total=%d", self.metrics.messages_expired)

    async def _expire_periodically(self) -> None:
        while True:
            try:
                await self.expire()
            except StoreFailed:
                _log.exception("expiry sweep failed; retrying next interval")
            await asyncio.sleep(self.settings.expiry_interval_seconds)

    def _sign_hello(self, session_id: bytes, session_key: bytes) -> bytes:
        hello = sign_server_hello(self._identity, RELAY_VERSIONS, session_id, session_key)
        return hello.encode()

    def _track(self, task: asyncio.Task[None]) -> None:
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _commit(self, session: SessionState, pending: list[_Pending]) -> None:
        """Make a block's changes durable, then finish its commands in order.

        If the store fails, commands that needed it are rolled back and answered
        ``ERR INTERNAL``; nothing is ever answered ``OK`` without being durable.
        """
        try:
            await self._store.apply([change for _, step in pending for change in step.changes])
        except StoreFailed:
            _log.exception("store commit failed")
            for transmission, step in pending:
                if step.changes:
                    step.rollback()
                    self._protocol.reply_internal_error(session, transmission)
                else:
                    step.finish()
        else:
            self.metrics.store_commits += 1
            for _, step in pending:
                step.finish()
        self._protocol.flush()


_Pending = tuple[Transmission, Step]


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
        self._in_flight: set[asyncio.Task[None]] = set()
        self.version: int | None = None
        """The agreed relay protocol version, once the client hello arrived."""
        self.hello: bytes = service._sign_hello(state.session_id, state.session_key.public)

    @property
    def session_id(self) -> bytes:
        """The random id every command of this session is bound to."""
        return self._state.session_id

    async def handle_block(self, block: bytes) -> None:
        """Process one received block; responses and pushes leave through ``push``.

        Returns once the block's commands are under way; it waits only when this
        connection already has ``max_pipelined_blocks`` blocks waiting for the store.
        """
        if self._state.closed:
            return
        if self.version is None:
            self._accept_client_hello(block)
            return
        # Decode everything before acting on anything, so a malformed block changes nothing.
        transmissions = [decode_transmission(data) for data in decode_block(block)]
        service = self._service
        now = service._clock()
        pending = [(t, service._protocol.handle(self._state, t, now)) for t in transmissions]
        if not any(step.changes for _, step in pending):
            for _, step in pending:
                step.finish()
            service._protocol.flush()
            return
        task = asyncio.create_task(service._commit(self._state, pending))
        service._track(task)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        if len(self._in_flight) >= service.settings.max_pipelined_blocks:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)

    def _accept_client_hello(self, block: bytes) -> None:
        hello = decode_client_hello(block)
        self.version = RELAY_VERSIONS.agree(hello.versions)

    def close(self) -> None:
        """End the session: its subscriptions lapse and nothing more is pushed.

        Commands already accepted still commit; only their answers are dropped.
        """
        self._service._protocol.close_session(self._state)
