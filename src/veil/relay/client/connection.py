"""One client connection to a relay: TLS, identity pinning, hello, batched commands.

:class:`ClientConnection` is the socket half of :class:`veil.relay.client.relay_client.RelayClient`.
It checks the relay's certificate against the pinned fingerprint before sending a
single byte of its own, verifies the relay hello, answers with the client hello,
and then moves transmissions: commands submitted in one event-loop turn share
blocks, and each reply is matched to its command by correlation id.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from veil.crypto import RandomSource
from veil.errors import ProtocolError
from veil.relay.client.session import ClientSession, RawResponse, Reply
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import (
    ConnectionLost,
    IdentityMismatch,
    UnexpectedResponse,
    error_for_code,
)
from veil.relay.transport.identity import verify_certificate
from veil.relay.transport.tls import TlsBlockProtocol

__all__ = ["ClientConnection", "CommandBuilder", "ReplyListener", "StreamBuilder"]

CommandBuilder = Callable[[ClientSession], tuple[bytes, bytes]]
"""Builds one transmission for a session: returns ``(correlation_id, transmission)``."""
StreamBuilder = Callable[[ClientSession], list[tuple[bytes, bytes]]]
"""Builds transmissions whose replies one listener takes (``submit_stream``)."""
ReplyListener = Callable[[bytes], bool]
"""Takes each reply body of a stream; returns True once it expects no more."""


class _Stream:
    """The replies to several transmissions (or several replies to one), to one listener."""

    __slots__ = ("correlation_ids", "future", "listener")

    def __init__(
        self, correlation_ids: list[bytes], listener: ReplyListener, future: asyncio.Future[None]
    ) -> None:
        self.correlation_ids = correlation_ids
        self.listener = listener
        self.future = future


class ClientConnection(TlsBlockProtocol):
    """A pinned, handshaken connection that sends commands and routes replies.

    ``on_push`` receives relay-initiated replies (``MSG``, ``END``); ``on_lost``
    is called once when the connection ends, for whatever reason.
    """

    server_side = False

    def __init__(
        self,
        context: ssl.SSLContext,
        pinned_digest: bytes,
        rng: RandomSource,
        on_push: Callable[[Reply], None],
        on_lost: Callable[[ClientConnection], None],
    ) -> None:
        super().__init__(context)
        self._pinned_digest = pinned_digest
        self._rng = rng
        self._on_push = on_push
        self._on_lost = on_lost
        self._identity_public = b""
        self.session: ClientSession | None = None
        """The verified session, once the relay's hello checked out."""
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting: dict[bytes, asyncio.Future[rsp.Response]] = {}
        self._raw_waiting: dict[bytes, asyncio.Future[bytes]] = {}
        self._streams: dict[bytes, _Stream] = {}
        self._send_scheduled = False

    def submit(self, build: CommandBuilder) -> asyncio.Future[rsp.Response]:
        """Queue one command; the future gets its answer, or the error ``ERR`` stands for.

        The future fails with :class:`ConnectionLost` if the connection ends first.
        """
        if self.session is None or not self.established:
            raise ConnectionLost("not connected to the relay")
        correlation_id, transmission = build(self.session)
        future: asyncio.Future[rsp.Response] = asyncio.get_running_loop().create_future()
        self._waiting[correlation_id] = future
        self._queue(self.session, transmission)
        return future

    def submit_raw(self, correlation_id: bytes, transmission: bytes) -> asyncio.Future[bytes]:
        """Queue a transmission built elsewhere; the future gets the reply's body as sent.

        For private routing, whose replies (``ERR`` included) :mod:`veil.routing`
        reads itself. Fails with :class:`ConnectionLost` like :meth:`submit`.
        """
        if self.session is None or not self.established:
            raise ConnectionLost("not connected to the relay")
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._raw_waiting[correlation_id] = future
        self._queue(self.session, transmission)
        return future

    def submit_stream(self, build: StreamBuilder, listener: ReplyListener) -> asyncio.Future[None]:
        """Queue transmissions; every reply to any of them goes to ``listener`` (raw body).

        The future resolves once ``listener`` returns True, fails with what it
        raised, or with :class:`ConnectionLost` like :meth:`submit`. File uploads
        (one answer per chunk of pieces) and downloads (many answers) use it.
        """
        if self.session is None or not self.established:
            raise ConnectionLost("not connected to the relay")
        built = build(self.session)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        stream = _Stream([correlation_id for correlation_id, _ in built], listener, future)
        for correlation_id, transmission in built:
            self._streams[correlation_id] = stream
            self._queue(self.session, transmission)
        return future

    def _feed(self, stream: _Stream, body: bytes) -> None:
        if stream.future.done():  # the caller gave up (cancelled): forget the stream
            finished = True
        else:
            try:
                finished = stream.listener(body)
            except Exception as exc:
                stream.future.set_exception(exc)
                finished = True
        if finished:
            for correlation_id in stream.correlation_ids:
                self._streams.pop(correlation_id, None)
            if not stream.future.done():
                stream.future.set_result(None)

    def _queue(self, session: ClientSession, transmission: bytes) -> None:
        session.queue(transmission)
        if not self._send_scheduled:
            self._send_scheduled = True
            asyncio.get_running_loop().call_soon(self._send_batch)

    def _send_batch(self) -> None:
        self._send_scheduled = False
        if self.session is None:
            return
        for block in self.session.data_to_send():
            self.send_block(block)

    @property
    def identity_key(self) -> bytes:
        """The relay's Ed25519 identity key, proven by its certificate (empty before)."""
        return self._identity_public

    def on_handshake_completed(self) -> None:
        try:
            self._identity_public = verify_certificate(self.peer_certificate(), self._pinned_digest)
        except IdentityMismatch as exc:
            self._fail_ready(exc)
            self.close(exc)

    def on_block_received(self, block: bytes) -> None:
        try:
            if self.session is None:
                self._accept_hello(block)
            else:
                for reply in self.session.parse_block(block):
                    self._route(reply)
        except ProtocolError as exc:
            self._fail_ready(exc)
            self.close(exc)

    def _accept_hello(self, block: bytes) -> None:
        session = ClientSession.accept_hello(block, self._identity_public, self._rng)
        self.send_block(session.client_hello)
        self.session = session
        if not self.ready.done():
            self.ready.set_result(None)

    def _route(self, reply: Reply) -> None:
        if reply.is_push:
            self._on_push(reply)
            return
        stream = self._streams.get(reply.correlation_id)
        if stream is not None:
            self._feed(stream, reply.body)
            return
        raw = self._raw_waiting.pop(reply.correlation_id, None)
        if raw is not None:
            if not raw.done():
                raw.set_result(reply.body)
            return
        future = self._waiting.pop(reply.correlation_id, None)
        if future is None or future.done():
            return
        if isinstance(reply.response, RawResponse):
            future.set_exception(UnexpectedResponse("relay answered with a routing response"))
        elif isinstance(reply.response, rsp.ErrorResponse):
            future.set_exception(_command_error(reply.response.code))
        else:
            future.set_result(reply.response)

    def on_connection_closed(self, exc: BaseException | None) -> None:
        reason = "cleanly" if exc is None else f"({type(exc).__name__})"
        lost = ConnectionLost(f"connection to the relay closed {reason}")
        self._fail_ready(exc if isinstance(exc, ProtocolError) else lost)
        waiting, self._waiting = self._waiting, {}
        raw_waiting, self._raw_waiting = self._raw_waiting, {}
        streams, self._streams = self._streams, {}
        futures: list[asyncio.Future[rsp.Response] | asyncio.Future[bytes] | asyncio.Future[None]]
        futures = [
            *waiting.values(),
            *raw_waiting.values(),
            *(stream.future for stream in streams.values()),
        ]
        for future in futures:
            if not future.done():
                future.set_exception(lost)
        self._on_lost(self)

    def _fail_ready(self, exc: BaseException) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc)
            self.ready.exception()  # mark retrieved: the connector may have given up


def _command_error(code: int) -> ProtocolError:
    """The error an ``ERR code`` answer stands for.

    A code this client does not know fails that one command; raised from
    :meth:`ClientConnection._route` instead, it would close the connection after
    the command's future was already taken, leaving its caller waiting forever.
    """
    try:
        error = error_for_code(code)
    except UnexpectedResponse as exc:
        return exc
    return error(f"relay answered ERR {error.__name__}")
