"""The proxy role of private routing: one shared session per destination relay.

On ``PRXY`` the proxy opens (or reuses) a TLS session to the destination with the
ordinary :class:`~veil.relay.client.relay_client.RelayClient`, pinned by the fingerprint in the
requested address, and answers ``PKEY`` with the destination's identity key and
its signed hello, unchanged, so the client checks the proof itself. Every client
asking for the same destination shares that session, and forwards from all of
them are batched into its blocks by the client connection.

On ``PFWD`` it re-wraps the client's sealed command as an ``RFWD``
(:class:`~veil.routing.ProxyForwarder`) under a correlation id of its own, and
turns the destination's ``RRES`` into the client's ``PRES``. If the destination
session drops, pending forwards get ``ERR 480`` and the next ``PFWD`` naming it
gets ``ERR 481`` (the client sends ``PRXY`` again).

Clients choose the destinations, so what they can hold is bounded: a destination
session with no forward in flight and none for ``PROXY_IDLE_TIMEOUT`` is closed
(its clients get ``ERR 481`` and ask again), at most ``MAX_DESTINATIONS`` are open,
and one client connection may have ``MAX_PENDING_REQUESTS`` ``PRXY`` waiting for a
destination at once; beyond either limit ``PRXY`` is answered ``ERR 480``.

Nothing about clients or destinations is stored or logged: only counters.

This module is the asyncio adapter: it opens and closes destination sessions and
carries forwards over them; the rules and the state are in
:class:`~veil.routing.proxy_sessions.ProxySessions` (sans I/O), whose one timer
it arms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from veil.crypto import RandomSource
from veil.errors import ProtocolError
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.transmission import Transmission
from veil.relay.server.core import RelayProtocol
from veil.relay.server.session import SessionState
from veil.routing.codec import ProxyForward, ProxyRequest
from veil.routing.destination import ProxyCommandTaken
from veil.routing.destination_guard import DestinationGuard, GuardedDialer
from veil.routing.errors import (
    DestinationUnreachable,
    ProxySessionUnknown,
    RoutingProtocolError,
)
from veil.routing.forward_crypto import PendingForward
from veil.routing.proxy_sessions import (
    MAX_DESTINATIONS,
    PROXY_IDLE_TIMEOUT,
    DestinationSession,
    ProxySessions,
)

__all__ = [
    "MAX_DESTINATIONS",
    "MAX_PENDING_REQUESTS",
    "PROXY_CONNECT_TIMEOUT",
    "PROXY_IDLE_TIMEOUT",
    "RelayProxy",
]

PROXY_CONNECT_TIMEOUT = 10.0
"""Seconds the proxy gives a destination to accept TCP, TLS and the hello."""
MAX_PENDING_REQUESTS = 8
"""``PRXY`` of one client connection that may wait for their destination at once."""


class RelayProxy:
    """Answers ``PRXY`` and ``PFWD`` for one relay; needs a running event loop.

    Answers are queued on the relay's queue ``core``; ``wake()`` asks the relay
    service to send them (they come from the network, outside any command).
    """

    def __init__(
        self,
        rng: RandomSource,
        core: RelayProtocol,
        wake: Callable[[], None],
        *,
        enabled: bool,
        connect_timeout: float = PROXY_CONNECT_TIMEOUT,
        idle_timeout: float = PROXY_IDLE_TIMEOUT,
        guard: DestinationGuard | None = None,
    ) -> None:
        self._rng = rng
        self._core = core
        self._wake = wake
        self._metrics = core.metrics
        self.enabled = enabled
        self._connect_timeout = connect_timeout
        self._dialer = GuardedDialer(guard or DestinationGuard(), timeout=connect_timeout)
        self._sessions = ProxySessions(rng, core.metrics, idle_timeout)
        self._timer: asyncio.TimerHandle | None = None
        self._opening: dict[str, asyncio.Task[DestinationSession]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._requests_pending: dict[SessionState, int] = {}
        """``PRXY`` per connection whose destination is still connecting."""

    def start(self, taken: ProxyCommandTaken) -> None:
        """Start on one ``PRXY`` or ``PFWD``; the answer follows once the destination replied."""
        command = taken.command
        if isinstance(command, ProxyRequest):
            self._request(taken.session, taken.transmission.correlation_id, command)
        else:
            self._forward(taken.session, taken.transmission, command)

    def evict_idle(self, now: float) -> int:
        """Close destination sessions idle since ``now - idle_timeout``; return how many.

        A session with a forward in flight is never idle. ``now`` is event-loop time.
        """
        idle = self._sessions.evict_idle(now)
        for destination in idle:
            self._close_link(destination)
        return len(idle)

    def close_session(self, session: SessionState) -> None:
        """Forget a closed connection; its waiting ``PRXY`` still finish, unanswered.

        Nothing to drop: the core sends nothing to a closed session.
        """

    async def close(self) -> None:
        """Close every destination session; pending forwards are answered ``ERR 480``."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in (*self._tasks, *self._opening.values()):
            task.cancel()
        for destination in self._sessions.sessions():
            await _client(destination).close()
        self._sessions.clear()

    # -- PRXY ------------------------------------------------------------------------

    def _request(self, session: SessionState, correlation_id: bytes, request: ProxyRequest) -> None:
        """Start answering one ``PRXY``, unless its connection has too many waiting."""
        pending = self._requests_pending.get(session, 0)
        if pending >= MAX_PENDING_REQUESTS:
            self._metrics.errors["proxy_requests_pending"] += 1
            self._reply_error(session, correlation_id, DestinationUnreachable.code)
            return
        self._requests_pending[session] = pending + 1
        self._spawn(self._counted(session, self._answer_request(session, correlation_id, request)))

    async def _counted(self, session: SessionState, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        finally:
            left = self._requests_pending.get(session, 0) - 1
            if left > 0:
                self._requests_pending[session] = left
            else:
                self._requests_pending.pop(session, None)

    async def _answer_request(
        self, session: SessionState, correlation_id: bytes, request: ProxyRequest
    ) -> None:
        try:
            routing_version = self._sessions.agree_version(request)
        except RoutingProtocolError as error:
            self._reply_error(session, correlation_id, error.code)
            return
        try:
            destination = await self._destination(request.destination)
        except (ProtocolError, OSError, TimeoutError) as exc:
            self._metrics.errors[f"proxy_connect_{type(exc).__name__}"] += 1
            self._reply_error(session, correlation_id, DestinationUnreachable.code)
            return
        proof = self._sessions.proof(destination, routing_version, _now())
        self._reply(session, correlation_id, b"", proof)

    async def _destination(self, address: RelayAddress) -> DestinationSession:
        """The live shared session to ``address``, opened once however many ask at once."""
        fingerprint = address.fingerprint
        known = self._sessions.by_fingerprint(fingerprint)
        if known is not None and known.link.connected:
            return known
        if known is not None:
            self._forget(known)
        opening = self._opening.get(fingerprint)
        if opening is None:
            if self._sessions.full(len(self._opening)):
                self.evict_idle(_now())
            if self._sessions.full(len(self._opening)):
                raise DestinationUnreachable("proxy holds its maximum of destination sessions")
            opening = asyncio.create_task(self._connect(address))
            self._opening[fingerprint] = opening
            opening.add_done_callback(lambda _: self._opening.pop(fingerprint, None))
        return await asyncio.shield(opening)

    async def _connect(self, address: RelayAddress) -> DestinationSession:
        client = await RelayClient.connect(
            address,
            rng=self._rng,
            reconnect=None,
            connect_timeout=self._connect_timeout,
            dialer=self._dialer,
        )
        session = client.session
        if session is None or session.hello is None:
            await client.close()
            raise DestinationUnreachable("destination session ended during set-up")
        destination = self._sessions.opened(
            address.fingerprint,
            client,
            identity_key=client.identity_key,
            relay_version=session.version,
            hello=session.hello,
            now=_now(),
        )
        self._arm_timer()
        return destination

    def _forget(self, destination: DestinationSession) -> None:
        self._sessions.unlist(destination)
        self._close_link(destination)

    def _close_link(self, destination: DestinationSession) -> None:
        self._spawn(_client(destination).close())

    # -- PFWD ------------------------------------------------------------------------

    def _forward(
        self, session: SessionState, transmission: Transmission, pfwd: ProxyForward
    ) -> None:
        correlation_id = transmission.correlation_id
        destination = self._sessions.by_id(transmission.entity_id)
        if destination is None or not destination.link.connected:
            if destination is not None:
                self._forget(destination)
            self._reply_error(session, correlation_id, ProxySessionUnknown.code)
            return
        try:
            relayed = self._sessions.relay(destination, pfwd)
        except RoutingProtocolError as error:
            self._reply_error(session, correlation_id, error.code)
            return
        try:
            future = _client(destination).submit_raw(relayed.correlation_id, relayed.transmission)
        except ProtocolError:
            self._reply_error(session, correlation_id, DestinationUnreachable.code)
            return
        self._sessions.sent(destination, _now())
        future.add_done_callback(
            lambda done: self._answer_forward(
                session, transmission, destination, relayed.pending, done
            )
        )

    def _answer_forward(
        self,
        session: SessionState,
        transmission: Transmission,
        destination: DestinationSession,
        pending: PendingForward,
        done: asyncio.Future[bytes],
    ) -> None:
        if self._sessions.answered(destination):
            self._close_link(destination)
        correlation_id = transmission.correlation_id
        if done.cancelled() or done.exception() is not None:
            self._reply_error(session, correlation_id, DestinationUnreachable.code)
            return
        try:
            reply = self._sessions.reply(pending, done.result())
        except RoutingProtocolError as error:
            self._metrics.errors[type(error).__name__] += 1
            self._reply_error(session, correlation_id, DestinationUnreachable.code)
            return
        self._reply(session, correlation_id, transmission.entity_id, reply)

    # -- the one timer, tasks and answers ------------------------------------------------

    def _arm_timer(self) -> None:
        """Re-arm the proxy's one timer for when its sessions next need a sweep."""
        due = self._sessions.next_timer()
        if self._timer is not None or due is None:
            return
        self._timer = asyncio.get_running_loop().call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        for destination in self._sessions.handle_timer(_now()):
            self._close_link(destination)
        self._arm_timer()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _reply_error(self, session: SessionState, correlation_id: bytes, code: int) -> None:
        self._reply(session, correlation_id, b"", rsp.encode_response(rsp.ErrorResponse(code)))

    def _reply(
        self, session: SessionState, correlation_id: bytes, entity_id: bytes, body: bytes
    ) -> None:
        """Queue an answer on the relay's core; the service sends it this event-loop turn."""
        self._core.answer_body(session, correlation_id, entity_id, body)
        self._wake()


def _client(destination: DestinationSession) -> RelayClient:
    client = destination.link
    assert isinstance(client, RelayClient)  # this adapter opened it
    return client


def _now() -> float:
    return asyncio.get_running_loop().time()
