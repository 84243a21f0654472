"""Group logs over a relay client's connection: admin, writer and reader commands.

:class:`GroupLogClient` is ``RelayClient.logs``; it shares the client's connection
(commands of one event-loop turn share blocks) and its reconnection: after a drop
it resubscribes every reader and reports :class:`LogsRestored`. Typical use::

    admin = await client.logs.create_log()
    writer = await client.logs.add_writer(admin)
    reader = await client.logs.add_reader(admin)     # hand writer/reader to a member
    await member.logs.subscribe(reader)
    seq = await client.logs.post(writer, body)       # returns once durable
    async for event in member.logs.events():
        if isinstance(event, LogEntryReceived):
            await member.logs.acknowledge(reader, event.seq)

Every command raises :class:`LogsUnsupported` on a relay older than protocol
version 4, the relay's ``ERR`` as its :class:`CommandError` class, and
:class:`ConnectionLost` as queue commands do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

from veil.crypto import AuthenticationFailed, RandomSource, X25519KeyPair
from veil.relay.client.link import RelayLink
from veil.relay.client.log_events import (
    LogAdmin,
    LogEntryDiscarded,
    LogEntryReceived,
    LogEvent,
    LogPosition,
    LogReader,
    LogsRestored,
    LogSubscriptionEnded,
    LogWriter,
    ReaderGrant,
)
from veil.relay.client.session import ClientSession, QueueKeys, Reply
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import (
    CommandError,
    LogsUnsupported,
    UnexpectedResponse,
    error_for_code,
)
from veil.relay.protocol.log_crypto import open_entry
from veil.relay.protocol.queue_crypto import authenticate, derive_auth_key
from veil.relay.protocol.transmission import (
    CORRELATION_ID_SIZE,
    PUSH_CORRELATION_ID,
    attach_authenticator,
    authorized_part,
)

__all__ = ["GroupLogClient"]

_A = TypeVar("_A", bound=lc.LogResponse)
_ERR = rsp.ErrorResponse.tag
_OK = rsp.Ok.tag


class GroupLogClient:
    """The group-log commands and subscriptions of one relay client."""

    def __init__(self, link: RelayLink, rng: RandomSource, delivery_window: int) -> None:
        self._link = link
        self._rng = rng
        self._window = delivery_window
        self._readers: dict[bytes, LogReader] = {}
        self._reported: dict[bytes, int] = {}
        """Highest sequence number reported per reader, so redeliveries are not repeated."""
        self._events: asyncio.Queue[LogEvent] = asyncio.Queue()
        self._mac_keys: dict[bytes, bytes] = {}
        self._mac_session = b""

    @property
    def subscriptions(self) -> tuple[LogReader, ...]:
        """Readers this client receives entries for (kept across reconnections)."""
        return tuple(self._readers.values())

    def events(self) -> AsyncIterator[LogEvent]:
        """Entries and notices of every subscribed reader, in arrival order."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[LogEvent]:
        while True:
            yield await self._events.get()

    # -- admin ------------------------------------------------------------------------

    async def create_log(self, *, password: str | None = None) -> LogAdmin:
        """``LNEW``: make a log; ``AuthFailed`` if the relay's password is wrong."""
        auth = X25519KeyPair.generate(self._rng)
        secret = b"" if password is None else password.encode()
        created = await self._request(lc.CreateLog(auth.public, secret), b"", auth, lc.LogCreated)
        return LogAdmin(created.log_id, auth)

    async def grant_reader(
        self, admin: LogAdmin, auth_public: bytes, dh_public: bytes
    ) -> ReaderGrant:
        """``LRADD`` for a member that made its own keys (it sent their public halves)."""
        command = lc.AddReader(auth_public, dh_public)
        added = await self._request(command, admin.log_id, admin.auth, lc.ReaderAdded)
        return ReaderGrant(added.reader_id, added.relay_dh_key, added.cursor)

    async def add_reader(self, admin: LogAdmin) -> LogReader:
        """``LRADD`` with fresh keys; hand the returned credentials to the member."""
        keys = QueueKeys.generate(self._rng)
        grant = await self.grant_reader(admin, keys.auth.public, keys.dh.public)
        return LogReader.from_grant(grant, keys)

    async def grant_writer(self, admin: LogAdmin, auth_public: bytes) -> bytes:
        """``LWADD`` for a member that made its own auth key; returns the writer id."""
        command = lc.AddWriter(auth_public)
        return (await self._request(command, admin.log_id, admin.auth, lc.WriterAdded)).writer_id

    async def add_writer(self, admin: LogAdmin) -> LogWriter:
        """``LWADD`` with a fresh key; hand the returned credentials to the member."""
        auth = X25519KeyPair.generate(self._rng)
        return LogWriter(await self.grant_writer(admin, auth.public), auth)

    async def remove_reader(self, admin: LogAdmin, reader_id: bytes) -> None:
        """``LRDEL``: the reader reads nothing more; its subscriber gets ``LEND`` (removed)."""
        await self._ok(lc.RemoveReader(reader_id), admin.log_id, admin.auth)

    async def remove_writer(self, admin: LogAdmin, writer_id: bytes) -> None:
        """``LWDEL``: the writer's posts are refused (``AuthFailed``) from now on."""
        await self._ok(lc.RemoveWriter(writer_id), admin.log_id, admin.auth)

    async def delete_log(self, admin: LogAdmin) -> None:
        """``LDEL``: delete the log, its members and entries; subscribers get ``LEND``."""
        await self._ok(lc.DeleteLog(), admin.log_id, admin.auth)

    # -- writer and reader ----------------------------------------------------------

    async def post(self, writer: LogWriter, body: bytes) -> int:
        """``LPOST``: append ``body`` (at most 16,000 bytes); returns its sequence number
        once the relay stored it durably. ``LogFull`` while the log holds its quota."""
        if len(body) > lc.MAX_ENTRY_BODY:
            raise ValueError(f"entry body exceeds {lc.MAX_ENTRY_BODY} bytes")
        command = lc.PostEntry(body)
        return (await self._request(command, writer.writer_id, writer.auth, lc.EntryPosted)).seq

    async def subscribe(self, reader: LogReader) -> LogPosition:
        """``LSUB``: receive ``reader``'s entries from its cursor as :class:`LogEntryReceived`.

        Subscribing again redelivers every unacknowledged entry (and reports them again).
        """
        self._readers[reader.reader_id] = reader  # the first LENT may share the answer's block
        self._reported.pop(reader.reader_id, None)
        try:
            return await self._subscribe(reader)
        except CommandError:
            self._readers.pop(reader.reader_id, None)
            raise

    async def acknowledge(self, reader: LogReader, seq: int) -> None:
        """``LACK``: every entry up to ``seq`` is handled; the relay sends the next ones."""
        await self._ok(lc.AcknowledgeEntries(seq), reader.reader_id, reader.auth)

    def forget(self, reader: LogReader) -> None:
        """Stop expecting ``reader``'s entries here (and resubscribing it)."""
        self._readers.pop(reader.reader_id, None)
        self._reported.pop(reader.reader_id, None)

    # -- pushes and reconnection (called by RelayClient) ------------------------------

    def take_push(self, reply: Reply) -> None:
        """A relay push (``LENT`` or ``LEND``) for one of our readers."""
        reader = self._readers.get(reply.entity_id)
        if reader is None:
            return  # a reader we dropped meanwhile
        push = lc.decode_log_response(reply.body)
        if isinstance(push, lc.EntryDelivered):
            self._entry(reader, push)
        elif isinstance(push, lc.LogSubscriptionEnded):
            self.forget(reader)
            self._events.put_nowait(LogSubscriptionEnded(reader, push.reason))

    async def resubscribe(self) -> None:
        """After a reconnection: say so, subscribe every reader again, report refusals."""
        readers = list(self._readers.values())
        if not readers:
            return
        self._events.put_nowait(LogsRestored(len(readers)))
        results = await asyncio.gather(
            *(self._subscribe(reader) for reader in readers), return_exceptions=True
        )
        for reader, result in zip(readers, results, strict=True):
            if isinstance(result, CommandError):
                self.forget(reader)
                self._events.put_nowait(LogSubscriptionEnded(reader, None))
            elif isinstance(result, BaseException):
                raise result

    # -- internals ----------------------------------------------------------------------

    async def _subscribe(self, reader: LogReader) -> LogPosition:
        command = lc.SubscribeLog(self._window)
        position = await self._request(
            command, reader.reader_id, reader.auth, lc.SubscriptionPosition
        )
        return LogPosition(position.cursor, position.oldest)

    def _entry(self, reader: LogReader, push: lc.EntryDelivered) -> None:
        if push.seq <= self._reported.get(reader.reader_id, -1):
            return  # redelivered after a reconnection; reported already
        self._reported[reader.reader_id] = push.seq
        try:
            opened = open_entry(
                reader.delivery_key, reader.reader_id, push.seq, push.nonce, push.sealed
            )
        except (AuthenticationFailed, UnexpectedResponse):
            self._events.put_nowait(LogEntryDiscarded(reader, push.seq))
            return
        self._events.put_nowait(LogEntryReceived(reader, opened.seq, opened.timestamp, opened.body))

    async def _request(
        self, command: lc.LogCommand, entity_id: bytes, auth: X25519KeyPair, answer: type[_A]
    ) -> _A:
        """Send one command; return its answer, which must be an ``answer``."""
        response = lc.decode_log_response(await self._exchange(command, entity_id, auth))
        if not isinstance(response, answer):
            raise UnexpectedResponse(f"expected {answer.__name__}, got {type(response).__name__}")
        return response

    async def _ok(self, command: lc.LogCommand, entity_id: bytes, auth: X25519KeyPair) -> None:
        """Send one command answered ``OK``."""
        if await self._exchange(command, entity_id, auth) != bytes((_OK,)):
            raise UnexpectedResponse("expected OK")

    async def _exchange(
        self, command: lc.LogCommand, entity_id: bytes, auth: X25519KeyPair
    ) -> bytes:
        """Send one command; return the answer's body, or raise the ``ERR`` it carries."""
        body = await self._link.exchange(lambda: self._build(command, entity_id, auth))
        if body[:1] == bytes((_ERR,)):
            error = rsp.decode_response(body)
            assert isinstance(error, rsp.ErrorResponse)
            raise error_for_code(error.code)(f"relay answered ERR {error.code}")
        return body

    def _build(
        self, command: lc.LogCommand, entity_id: bytes, auth: X25519KeyPair
    ) -> tuple[bytes, bytes]:
        """The authenticated transmission for the session that is up now."""
        session = self._link.session
        if session is None:
            raise UnexpectedResponse("no session")  # exchange() builds only when connected
        if session.version < lc.LOG_VERSION:
            raise LogsUnsupported(f"relay speaks protocol version {session.version}, logs need 4")
        correlation_id = self._correlation_id()
        authorized = authorized_part(correlation_id, entity_id, lc.encode_log_command(command))
        mac_key = self._mac_key(session, auth)
        return correlation_id, attach_authenticator(
            authenticate(mac_key, session.session_id, authorized), authorized
        )

    def _correlation_id(self) -> bytes:
        while True:
            correlation_id = self._rng.random_bytes(CORRELATION_ID_SIZE)
            if correlation_id != PUSH_CORRELATION_ID:
                return correlation_id

    def _mac_key(self, session: ClientSession, auth: X25519KeyPair) -> bytes:
        if self._mac_session != session.session_id:
            self._mac_keys, self._mac_session = {}, session.session_id
        key = self._mac_keys.get(auth.public)
        if key is None:
            key = self._mac_keys[auth.public] = derive_auth_key(auth, session.relay_session_key)
        return key
