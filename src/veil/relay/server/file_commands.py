"""The relay serves file commands (``docs/protocol/files.md`` section 8).

:class:`FileCommands` is a :class:`~veil.relay.server.service.CommandExtension`: it
takes every transmission whose tag is a file command (``0x20..0x2F``) and passes the
rest to the extension it wraps (private routing). A file command is decoded at once
(a malformed one is answered ``ERR SYNTAX`` like any command), then served on the
connection's own task, one command after another in arrival order, so ``FPUT``
pieces land in order. The chunk store runs on its worker thread
(:class:`~veil.relay.server.file_thread.StoreThread`); the key checks run here.

``FPUT`` pieces are answered once per chunk: ``OK`` once the last piece made the
body durable, ``OK`` at the first piece if the body is stored already, or the
``ERR`` of the piece that failed. In the last two cases the chunk's later pieces
are dropped silently, so the client sees one answer per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from veil.crypto import InvalidKey, RandomSource, X25519KeyPair, constant_time_equal
from veil.files import commands as fc
from veil.files.errors import ChunkNotFound, FileProtocolError
from veil.files.pieces import PieceReceiver, download_key, seal_piece
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import AuthFailed, BadCommand, CommandError, TooManyUploads
from veil.relay.protocol.transmission import Transmission
from veil.relay.server.authorization import authorize, require_entity
from veil.relay.server.core import RelayProtocol
from veil.relay.server.file_store import FileChunkStore
from veil.relay.server.file_store_body import BodyUpload
from veil.relay.server.file_thread import StoreThread, answer_for
from veil.relay.server.service import CommandExtension
from veil.relay.server.session import SessionState
from veil.relay.server.steps import Answer, Step

__all__ = [
    "FILE_COMMAND_TAGS",
    "MAX_PARTIAL_UPLOADS",
    "MAX_QUEUED_COMMANDS",
    "FileCommands",
    "FileJob",
]

FILE_COMMAND_TAGS = range(0x20, 0x30)
MAX_PARTIAL_UPLOADS = 8
MAX_FORWARDED_UPLOADS = 64
"""Partial uploads on a proxy's connection (shared by that proxy's clients)."""
MAX_QUEUED_COMMANDS = 2048
"""File commands one connection may have waiting (32 MiB of pieces at most)."""
_PIECES_PER_WRITE = 16
"""Pieces written to disk in one call of the store's thread (256 KB)."""
_MAX_DROPPED = 64
"""Chunks per connection whose remaining pieces are dropped silently (oldest forgotten)."""


@dataclass(frozen=True, slots=True)
class FileJob:
    """A decoded file command, to be served on its connection's task once committed."""

    session: SessionState
    transmission: Transmission
    command: fc.FileCommand
    forwarded: bool = False
    """Came through a proxy (``RFWD``): every command, each ``FPUT`` piece included,
    gets exactly one answer, since the proxy waits for one per forward."""


@dataclass(slots=True)
class _Partial:
    """One chunk upload in progress on a connection."""

    auth_key: bytes
    receiver: PieceReceiver
    body: BodyUpload
    held: list[bytes] = field(default_factory=list)
    """Pieces checked but not yet written: written in batches, one disk call each."""


@dataclass(slots=True)
class _Connection:
    """What file commands keep per connection."""

    jobs: deque[FileJob] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    uploads: dict[bytes, _Partial] = field(default_factory=dict)
    dropping: dict[bytes, None] = field(default_factory=dict)
    """Sender ids whose remaining pieces are dropped (answered already)."""


class FileCommands:
    """Serves file commands from ``store``; hands every other command to ``inner``."""

    def __init__(
        self,
        core: RelayProtocol,
        wake: Callable[[], None],
        store: StoreThread,
        *,
        rng: RandomSource,
        password: bytes | None,
        inner: CommandExtension | None = None,
    ) -> None:
        self._core = core
        self._wake = wake
        self._store = store
        self._rng = rng
        self._password = password
        self._inner = inner
        self._connections: dict[SessionState, _Connection] = {}

    @property
    def inner(self) -> CommandExtension | None:
        """The extension this one wraps (private routing), if any."""
        return self._inner

    def handles(self, transmission: Transmission) -> bool:
        """File commands, and whatever the wrapped extension handles."""
        if transmission.body[0] in FILE_COMMAND_TAGS:
            return True
        return self._inner is not None and self._inner.handles(transmission)

    def handle(self, session: SessionState, transmission: Transmission, now: float) -> Step:
        """Decode a file command; it is served once :meth:`commit` gets its step."""
        if transmission.body[0] not in FILE_COMMAND_TAGS:
            assert self._inner is not None
            return self._inner.handle(session, transmission, now)
        try:
            command = fc.decode_file_command(transmission.body)
        except FileProtocolError as exc:
            return self._error_step(session, transmission, BadCommand(str(exc)))
        return Step((), FileJob(session, transmission, command))

    def handle_forwarded(
        self, session: SessionState, transmission: Transmission, now: float
    ) -> Step:
        """An upload command a proxy forwarded (``session`` answers through the proxy)."""
        try:
            command = fc.decode_file_command(transmission.body)
        except FileProtocolError as exc:
            return self._error_step(session, transmission, BadCommand(str(exc)))
        return Step((), FileJob(session, transmission, command, forwarded=True))

    def commit(self, step: Step) -> None:
        """Queue a file command on its connection's task; pass any other step on."""
        if isinstance(step.outcome, FileJob):
            self._enqueue(step.outcome)
        elif self._inner is not None:
            self._inner.commit(step)
        else:
            self._core.commit(step)

    def undo(self, step: Step) -> None:
        """File steps change no queue store; others go back to whoever made them."""
        if self._inner is not None:
            self._inner.undo(step)
        else:
            self._core.undo(step)

    def close_session(self, session: SessionState) -> None:
        """Stop serving a closed connection and drop its partial uploads."""
        connection = self._connections.pop(session, None)
        if connection is not None:
            if connection.task is not None:
                connection.task.cancel()
            for partial in connection.uploads.values():
                self._store.submit(_aborter(partial.body))
        if self._inner is not None:
            self._inner.close_session(session)

    async def close(self) -> None:
        """Stop every connection's task, then close the store."""
        for session in list(self._connections):
            self.close_session(session)
        await self._store.close()
        if self._inner is not None:
            await self._inner.close()

    # -- serving -------------------------------------------------------------------

    def _enqueue(self, job: FileJob) -> None:
        # Forwarded commands of all a proxy's clients share the proxy's connection state
        # (their sender ids are random, so their uploads never mix).
        connection = self._connections.setdefault(job.session.carrier, _Connection())
        if len(connection.jobs) >= MAX_QUEUED_COMMANDS:
            # Far more than a client that waits for its answers ever queues: refuse
            # rather than hold an unbounded backlog of pieces in memory.
            self._reply(job, rsp.ErrorResponse(TooManyUploads.code))
            return
        connection.jobs.append(job)
        if connection.task is None:
            connection.task = asyncio.create_task(self._serve_all(connection))

    async def _serve_all(self, connection: _Connection) -> None:
        try:
            while connection.jobs:
                job = connection.jobs.popleft()
                try:
                    await self._serve(connection, job)
                except Exception as exc:
                    self._reply(job, rsp.ErrorResponse(answer_for(exc).code))
        finally:
            connection.task = None

    async def _serve(self, connection: _Connection, job: FileJob) -> None:
        command, transmission = job.command, job.transmission
        require_entity(transmission, present=not isinstance(command, fc.NewChunk))
        entity = transmission.entity_id
        match command:
            case fc.NewChunk():
                await self._register(job, command)
            case fc.PutPiece():
                await self._put(connection, job, command)
            case fc.AddRecipients():
                self._authorize(job, await self._key(FileChunkStore.sender_auth_key, entity))
                ids = await self._store.call(
                    lambda s: s.add_recipients(entity, command.recipient_auth_keys)
                )
                self._reply_file(job, fc.RecipientIds(ids))
            case fc.DeleteChunk():
                self._authorize(job, await self._key(FileChunkStore.sender_auth_key, entity))
                await self._store.call(lambda s: s.delete(entity))
                self._reply(job, _OK)
            case fc.AcknowledgeChunk():
                self._authorize(job, await self._key(FileChunkStore.recipient_auth_key, entity))
                await self._store.call(lambda s: s.acknowledge(entity))
                self._reply(job, _OK)
            case fc.GetChunk():
                await self._get(job, command)

    async def _register(self, job: FileJob, command: fc.NewChunk) -> None:
        self._authorize(job, command.sender_auth_key)
        password = self._password
        if password is not None and not constant_time_equal(command.password, password):
            raise AuthFailed("wrong relay password")
        registered = await self._store.call(
            lambda s: s.register(
                command.size, command.digest, command.sender_auth_key, command.recipient_auth_keys
            )
        )
        ids = fc.ChunkIds(registered.sender_id, registered.recipient_ids)
        self._reply_file(job, ids)

    async def _put(self, connection: _Connection, job: FileJob, command: fc.PutPiece) -> None:
        sender_id = job.transmission.entity_id
        partial = connection.uploads.get(sender_id)
        if command.offset == 0:
            if partial is not None:
                del connection.uploads[sender_id]
                await self._store.call(_aborter(partial.body))
            connection.dropping.pop(sender_id, None)
            partial = await self._begin(connection, job)
            if partial is None:
                return
        elif partial is None:
            if sender_id in connection.dropping:
                if job.forwarded:
                    self._reply(job, _OK)
                return
            raise BadCommand("FPUT does not follow an upload in progress")
        else:
            self._authorize(job, partial.auth_key)
        try:
            done = partial.receiver.accept(command)
            partial.held.append(command.piece)
            if done or len(partial.held) >= _PIECES_PER_WRITE:
                held, partial.held = b"".join(partial.held), []
                body = partial.body
                await self._store.call(lambda _: body.write(held))
            if done:
                await self._store.call(lambda _: body.finish())
        except Exception:
            self._drop(connection, sender_id)
            await self._store.call(_aborter(partial.body))
            raise
        if done:
            del connection.uploads[sender_id]
        if done or job.forwarded:
            self._reply(job, _OK)

    async def _begin(self, connection: _Connection, job: FileJob) -> _Partial | None:
        """Start an upload at its first piece; ``None`` if answered already (stored)."""
        sender_id = job.transmission.entity_id
        key = await self._key(FileChunkStore.sender_auth_key, sender_id)
        self._authorize(job, key)
        assert key is not None  # _authorize refuses a missing key
        limit = MAX_FORWARDED_UPLOADS if job.forwarded else MAX_PARTIAL_UPLOADS
        if len(connection.uploads) >= limit:
            raise TooManyUploads(f"at most {limit} chunk uploads per connection")
        try:
            body = await self._store.call(lambda s: s.begin_put(sender_id))
        except Exception:
            self._drop(connection, sender_id)
            raise
        if body is None:
            self._drop(connection, sender_id)
            self._reply(job, _OK)
            return None
        partial = _Partial(key, PieceReceiver(body.size), body)
        connection.uploads[sender_id] = partial
        return partial

    async def _get(self, job: FileJob, command: fc.GetChunk) -> None:
        recipient_id = job.transmission.entity_id
        self._authorize(job, await self._key(FileChunkStore.recipient_auth_key, recipient_id))
        relay_key = X25519KeyPair.generate(self._rng)
        try:
            key = download_key(relay_key, command.recipient_dh_key)
        except InvalidKey as exc:
            raise BadCommand("recipient DH key is not usable") from exc
        # Read to the end before sending anything: a body damaged on disk fails there.
        body = await self._store.call(lambda s: b"".join(s.read(recipient_id)))
        correlation = job.transmission.correlation_id
        self._reply_file(job, fc.DownloadKey(relay_key.public, len(body)))
        for index, start in enumerate(range(0, len(body), fc.MAX_PIECE_SIZE)):
            piece = body[start : start + fc.MAX_PIECE_SIZE]
            self._reply_file(
                job, fc.DownloadPiece(index, seal_piece(key, correlation, index, piece))
            )
            if index % 16 == 15:
                await asyncio.sleep(0)  # let the connection take what is queued so far

    # -- helpers -------------------------------------------------------------------

    async def _key(
        self, lookup: Callable[[FileChunkStore, bytes], bytes], entity: bytes
    ) -> bytes | None:
        """The auth key of an id, or ``None`` if there is no such (live) id."""
        with contextlib.suppress(ChunkNotFound):
            return await self._store.call(lambda s: lookup(s, entity))
        return None

    @staticmethod
    def _authorize(job: FileJob, key: bytes | None) -> None:
        authorize(job.session, job.transmission, key)

    @staticmethod
    def _drop(connection: _Connection, sender_id: bytes) -> None:
        connection.uploads.pop(sender_id, None)
        connection.dropping[sender_id] = None
        if len(connection.dropping) > _MAX_DROPPED:
            del connection.dropping[next(iter(connection.dropping))]

    def _reply(self, job: FileJob, response: rsp.Response) -> None:
        self._send(job, rsp.encode_response(response))

    def _reply_file(self, job: FileJob, response: fc.FileResponse) -> None:
        self._send(job, fc.encode_file_response(response))

    def _send(self, job: FileJob, body: bytes) -> None:
        transmission = job.transmission
        self._core.answer_body(
            job.session, transmission.correlation_id, transmission.entity_id, body
        )
        self._wake()

    @staticmethod
    def _error_step(session: SessionState, transmission: Transmission, error: CommandError) -> Step:
        reply = rsp.ErrorResponse(error.code)
        return Step((), Answer(session, transmission.correlation_id, transmission.entity_id, reply))


def _aborter(body: BodyUpload) -> Callable[[FileChunkStore], None]:
    return lambda _: body.abort()


_OK = rsp.Ok()
