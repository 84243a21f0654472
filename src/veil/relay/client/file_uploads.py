"""Chunk uploads (``FNEW``, ``FADD``, ``FPUT``, ``FDEL``) over a port: direct or proxied.

:class:`FileUploads` holds the rules of an upload; an :class:`UploadPort` carries its
commands. :class:`DirectUploads` is a connection to the file relay itself: a
chunk's pieces all go at once and are answered once. Private routing's port
(:mod:`veil.routing.proxied_files`) forwards each command through a proxy, so the
file relay never sees the uploader's address; there every piece is answered.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from veil.crypto import X25519KeyPair
from veil.files import commands as fc
from veil.files.errors import MalformedFileCommand
from veil.files.pieces import split_into_pieces
from veil.relay.client.relay_client import RelayClient
from veil.relay.client.session import FILE_RESPONSE_TAGS, ClientSession
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import UnexpectedResponse, UnknownCommand, error_for_code

__all__ = [
    "FILES_VERSION",
    "Answer",
    "DirectUploads",
    "FileUploads",
    "UploadPort",
    "decode_answer",
    "expect",
    "require_files",
]

FILES_VERSION = 3
"""The first relay protocol version with file commands."""

Answer = fc.FileResponse | rsp.Response
_T = TypeVar("_T")


def decode_answer(body: bytes) -> Answer:
    """A file answer, or ``OK``; raises the error an ``ERR`` stands for."""
    if body[:1] and body[0] in FILE_RESPONSE_TAGS:
        try:
            return fc.decode_file_response(body)
        except MalformedFileCommand as exc:
            raise UnexpectedResponse(f"file answer does not decode: {exc}") from exc
    response = rsp.decode_response(body)
    if isinstance(response, rsp.ErrorResponse):
        error = error_for_code(response.code)
        raise error(f"relay answered ERR {error.__name__}")
    return response


def expect(answer: Answer, kind: type[_T]) -> _T:
    """``answer`` as a ``kind``; :class:`UnexpectedResponse` if it is something else."""
    if not isinstance(answer, kind):
        raise UnexpectedResponse(f"relay answered {type(answer).__name__}, not {kind.__name__}")
    return answer


def require_files(session: ClientSession) -> None:
    """:class:`UnknownCommand` unless the session agreed on a version with file commands."""
    if session.version < FILES_VERSION:
        raise UnknownCommand(f"the relay speaks version {session.version}; files need 3")


class UploadPort(Protocol):
    """Carries upload commands to one file relay."""

    @property
    def ready(self) -> bool:
        """Whether commands can go now (the connection they use is up)."""
        ...

    async def command(self, body: bytes, entity: bytes, auth: X25519KeyPair) -> bytes:
        """Send one encoded file command; return the body of its answer."""
        ...

    async def pieces(self, bodies: list[bytes], entity: bytes, auth: X25519KeyPair) -> bytes:
        """Send a chunk's ``FPUT`` pieces in order; return the answer that ends it (the
        ``OK`` that it is durable, or the first error)."""
        ...


class DirectUploads:
    """Upload commands on a connection to the file relay itself."""

    def __init__(self, client: RelayClient) -> None:
        self.client = client

    @property
    def ready(self) -> bool:
        """Whether the connection is up."""
        return self.client.connected

    async def command(self, body: bytes, entity: bytes, auth: X25519KeyPair) -> bytes:
        """One command, one answer."""
        return await self.pieces([body], entity, auth)

    async def pieces(self, bodies: list[bytes], entity: bytes, auth: X25519KeyPair) -> bytes:
        """All at once; the relay answers a chunk's pieces once (the first answer ends it)."""
        answers: list[bytes] = []

        def build(session: ClientSession) -> list[tuple[bytes, bytes]]:
            require_files(session)
            return [session.encoded(body, entity_id=entity, auth=auth) for body in bodies]

        def take(reply: bytes) -> bool:
            answers.append(reply)
            return True

        await self.client.stream(build, take)
        return answers[0]


class FileUploads:
    """Registering, uploading and withdrawing chunks through ``port``."""

    def __init__(self, port: UploadPort) -> None:
        self.port = port

    async def register(
        self,
        size: int,
        digest: bytes,
        sender_key: bytes,
        recipient_auth_keys: tuple[bytes, ...],
        *,
        password: bytes = b"",
    ) -> fc.ChunkIds:
        """``FNEW`` (then ``FADD`` beyond 16 recipients): the chunk's sender and recipient ids."""
        sender = X25519KeyPair(sender_key)
        first, rest = (
            recipient_auth_keys[: fc.MAX_KEYS_PER_COMMAND],
            recipient_auth_keys[fc.MAX_KEYS_PER_COMMAND :],
        )
        command = fc.NewChunk(size, digest, sender.public, first, password)
        ids = expect(await self._one(command, b"", sender), fc.ChunkIds)
        recipient_ids = list(ids.recipient_ids)
        for start in range(0, len(rest), fc.MAX_KEYS_PER_COMMAND):
            more = fc.AddRecipients(rest[start : start + fc.MAX_KEYS_PER_COMMAND])
            added = expect(await self._one(more, ids.sender_id, sender), fc.RecipientIds)
            recipient_ids += added.recipient_ids
        return fc.ChunkIds(ids.sender_id, tuple(recipient_ids))

    async def put(self, sender_id: bytes, sender_key: bytes, body: bytes) -> None:
        """``FPUT`` every piece of a chunk's body; returns once the relay holds it durably."""
        pieces = [fc.encode_file_command(piece) for piece in split_into_pieces(body)]
        answer = await self.port.pieces(pieces, sender_id, X25519KeyPair(sender_key))
        expect(decode_answer(answer), rsp.Ok)

    async def delete(self, sender_id: bytes, sender_key: bytes) -> None:
        """``FDEL``: the sender withdraws a chunk (its body and sender id)."""
        auth = X25519KeyPair(sender_key)
        expect(await self._one(fc.DeleteChunk(), sender_id, auth), rsp.Ok)

    async def _one(self, command: fc.FileCommand, entity: bytes, auth: X25519KeyPair) -> Answer:
        body = fc.encode_file_command(command)
        return decode_answer(await self.port.command(body, entity, auth))
