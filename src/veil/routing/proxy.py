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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from veil.crypto import RandomSource
from veil.errors import ProtocolError
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.transmission import (
    CORRELATION_ID_SIZE,
    PUSH_CORRELATION_ID,
    Transmission,
    encode_transmission,
)
from veil.relay.server.core import RelayProtocol
from veil.relay.server.session import SessionState
from veil.routing.codec import (
    PROXY_SESSION_ID_SIZE,
    ROUTING_VERSIONS,
    ProxyForward,
    ProxyKey,
    ProxyRequest,
    RelayResponse,
    decode_routing_response,
    encode_routing_command,
    encode_routing_response,
)
from veil.routing.destination import ProxyCommandTaken
from veil.routing.errors import (
    DestinationUnreachable,
    MalformedRoutingCommand,
    ProxySessionUnknown,
    RoutingProtocolError,
    UnsupportedRoutingVersion,
)
from veil.routing.forward_crypto import PendingForward, ProxyForwarder
from veil.wire import WireError

__all__ = [
    "MAX_DESTINATIONS",
    "MAX_PENDING_REQUESTS",
    "PROXY_CONNECT_TIMEOUT",
    "PROXY_IDLE_TIMEOUT",
    "RelayProxy",
]

_log = logging.getLogger("veil.relay")

PROXY_CONNECT_TIMEOUT = 10.0
"""Seconds the proxy gives a destination to accept TCP, TLS and the hello."""
MAX_DESTINATIONS = 1024
"""Destination sessions a proxy keeps at once; clients choose them, so they are bounded."""
PROXY_IDLE_TIMEOUT = 600.0
"""Seconds a destination session with nothing in flight may go without a forward."""
MAX_PENDING_REQUESTS = 8
"""``PRXY`` of one client connection that may wait for their destination at once."""
_ERR = bytes((cmd.Tag.ERR,))


@dataclass(slots=True)
class _Destination:
    """The proxy's shared session to one destination relay."""

    proxy_session_id: bytes
    client: RelayClient
    forwarder: ProxyForwarder
    proof: ProxyKey
    """``PKEY`` as sent to clients (its routing version is set per request)."""
    last_used: float
    """Event-loop time of the last ``PRXY`` answered or ``PFWD`` sent with it."""
    pending: int = 0
    """Forwards sent and not answered yet."""
    retired: bool = False
    """No longer offered to clients; closed once ``pending`` reaches zero."""


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
    ) -> None:
        self._rng = rng
        self._core = core
        self._wake = wake
        self._metrics = core.metrics
        self.enabled = enabled
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._sweep_timer: asyncio.TimerHandle | None = None
        self._by_id: dict[bytes, _Destination] = {}
        self._by_fingerprint: dict[str, _Destination] = {}
        self._opening: dict[str, asyncio.Task[_Destination]] = {}
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
        deadline = now - self._idle_timeout
        idle = [d for d in self._by_id.values() if d.pending == 0 and d.last_used <= deadline]
        for destination in idle:
            self._forget(destination)
        return len(idle)

    async def close(self) -> None:
        """Close every destination session; pending forwards are answered ``ERR 480``."""
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
            self._sweep_timer = None
        for task in (*self._tasks, *self._opening.values()):
            task.cancel()
        for destination in list(self._by_id.values()):
            await destination.client.close()
        self._by_id.clear()
        self._by_fingerprint.clear()

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

    def close_session(self, session: SessionState) -> None:
        """Forget a closed connection; its waiting ``PRXY`` still finish, unanswered.

        Nothing to drop: the core sends nothing to a closed session.
        """

    def _arm_sweep(self) -> None:
        """The proxy's one timer: every half idle timeout, close idle destination sessions."""
        loop = asyncio.get_running_loop()
        self._sweep_timer = loop.call_later(self._idle_timeout / 2, self._sweep)

    def _sweep(self) -> None:
        self.evict_idle(asyncio.get_running_loop().time())
        self._arm_sweep()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_request(
        self, session: SessionState, correlation_id: bytes, request: ProxyRequest
    ) -> None:
        try:
            routing_version = ROUTING_VERSIONS.agree(request.versions)
        except WireError:
            self._reply_error(session, correlation_id, UnsupportedRoutingVersion.code)
            return
        try:
            destination = await self._destination(request.destination)
        except (ProtocolError, OSError, TimeoutError) as exc:
            self._metrics.errors[f"proxy_connect_{type(exc).__name__}"] += 1
            self._reply_error(session, correlation_id, DestinationUnreachable.code)
            return
        destination.last_used = asyncio.get_running_loop().time()
        proof = replace(destination.proof, routing_version=routing_version)
        self._reply(session, correlation_id, b"", encode_routing_response(proof))

    async def _destination(self, address: RelayAddress) -> _Destination:
        """The live shared session to ``address``, opened once however many ask at once."""
        fingerprint = address.fingerprint
        known = self._by_fingerprint.get(fingerprint)
        if known is not None and known.client.connected:
            return known
        if known is not None:
            self._forget(known)
        opening = self._opening.get(fingerprint)
        if opening is None:
            if len(self._by_id) + len(self._opening) >= MAX_DESTINATIONS:
                self.evict_idle(asyncio.get_running_loop().time())
            if len(self._by_id) + len(self._opening) >= MAX_DESTINATIONS:
                raise DestinationUnreachable("proxy holds its maximum of destination sessions")
            opening = asyncio.create_task(self._connect(address))
            self._opening[fingerprint] = opening
            opening.add_done_callback(lambda _: self._opening.pop(fingerprint, None))
        return await asyncio.shield(opening)

    async def _connect(self, address: RelayAddress) -> _Destination:
        client = await RelayClient.connect(
            address, rng=self._rng, reconnect=None, connect_timeout=self._connect_timeout
        )
        session = client.session
        if session is None or session.hello is None:
            await client.close()
            raise DestinationUnreachable("destination session ended during set-up")
        hello = session.hello
        proof = ProxyKey(
            proxy_session_id=self._rng.random_bytes(PROXY_SESSION_ID_SIZE),
            routing_version=ROUTING_VERSIONS.maximum,
            relay_version=session.version,
            identity_key=client.identity_key,
            hello_versions=hello.versions,
            session_id=hello.session_id,
            session_key=hello.session_key,
            signature=hello.signature,
        )
        forwarder = ProxyForwarder(hello.session_id, hello.session_key, self._rng)
        now = asyncio.get_running_loop().time()
        destination = _Destination(proof.proxy_session_id, client, forwarder, proof, now)
        if self._sweep_timer is None:
            self._arm_sweep()
        self._by_id[destination.proxy_session_id] = destination
        self._by_fingerprint[address.fingerprint] = destination
        self._metrics.proxy_sessions_opened += 1
        return destination

    def _forget(self, destination: _Destination) -> None:
        self._unlist(destination)
        self._spawn(destination.client.close())

    def _retire(self, destination: _Destination) -> None:
        """Offer a session that carried its last forward no more; close it once answered.

        The next ``PFWD`` naming it gets ``ERR 481``, so its client asks again with
        ``PRXY`` and gets a fresh session (whose forwards the destination opens anew).
        """
        self._unlist(destination)
        destination.retired = True
        if destination.pending == 0:
            self._spawn(destination.client.close())

    def _unlist(self, destination: _Destination) -> None:
        self._by_id.pop(destination.proxy_session_id, None)
        fingerprint = next(
            (key for key, value in self._by_fingerprint.items() if value is destination), None
        )
        if fingerprint is not None:
            del self._by_fingerprint[fingerprint]

    # -- PFWD ------------------------------------------------------------------------

    def _forward(
        self, session: SessionState, transmission: Transmission, pfwd: ProxyForward
    ) -> None:
        correlation_id = transmission.correlation_id
        destination = self._by_id.get(transmission.entity_id)
        if destination is None or not destination.client.connected:
            if destination is not None:
                self._forget(destination)
            self._reply_error(session, correlation_id, ProxySessionUnknown.code)
            return
        try:
            relay_forward, pending = destination.forwarder.wrap(pfwd)
        except RoutingProtocolError as error:
            self._reply_error(session, correlation_id, error.code)
            return
        own_correlation_id = self._correlation_id()
        body = encode_routing_command(relay_forward)
        rfwd = encode_transmission(b"", own_correlation_id, b"", body)
        try:
            future = destination.client.submit_raw(own_correlation_id, rfwd)
        except ProtocolError:
            self._reply_error(session, correlation_id, DestinationUnreachable.code)
            return
        self._metrics.forwards_proxied += 1
        destination.pending += 1
        destination.last_used = asyncio.get_running_loop().time()
        if destination.forwarder.exhausted:
            self._retire(destination)
        future.add_done_callback(
            lambda done: self._answer_forward(session, transmission, destination, pending, done)
        )

    def _answer_forward(
        self,
        session: SessionState,
        transmission: Transmission,
        destination: _Destination,
        pending: PendingForward,
        done: asyncio.Future[bytes],
    ) -> None:
        destination.pending -= 1
        if destination.retired and destination.pending == 0:
            self._spawn(destination.client.close())
        correlation_id = transmission.correlation_id
        if done.cancelled() or done.exception() is not None:
            self._reply_error(session, correlation_id, DestinationUnreachable.code)
            return
        body = done.result()
        if body[:1] == _ERR:
            # The destination's own refusal (e.g. 476): three bytes, passed on as they are.
            self._reply(session, correlation_id, transmission.entity_id, body)
            return
        try:
            response = decode_routing_response(body)
            if not isinstance(response, RelayResponse):
                raise MalformedRoutingCommand("destination did not answer RFWD with RRES")
            reply = encode_routing_response(pending.unwrap(response))
        except RoutingProtocolError as error:
            self._metrics.errors[type(error).__name__] += 1
            self._reply_error(session, correlation_id, DestinationUnreachable.code)
            return
        self._reply(session, correlation_id, transmission.entity_id, reply)

    def _correlation_id(self) -> bytes:
        while True:
            correlation_id = self._rng.random_bytes(CORRELATION_ID_SIZE)
            if correlation_id != PUSH_CORRELATION_ID:
                return correlation_id

    # -- answers to clients, sent by the relay service in one batch per event-loop turn --

    def _reply_error(self, session: SessionState, correlation_id: bytes, code: int) -> None:
        self._reply(session, correlation_id, b"", rsp.encode_response(rsp.ErrorResponse(code)))

    def _reply(
        self, session: SessionState, correlation_id: bytes, entity_id: bytes, body: bytes
    ) -> None:
        self._core.answer_body(session, correlation_id, entity_id, body)
        self._wake()
