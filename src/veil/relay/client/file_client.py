"""File commands on a relay connection (``docs/protocol/files.md`` section 8).

:class:`FileRelayClient` sends ``FNEW``/``FADD``/``FPUT``/``FGET``/``FDEL``/``FACK``
over a :class:`~veil.relay.client.relay_client.RelayClient` that negotiated relay
protocol version 3 or later (an older relay never sees a file command:
:class:`UnknownCommand` is raised before anything is sent). A chunk goes up as
pieces of 16,000 bytes, all queued at once and answered once; it comes down as
``FKEY`` then ``FDAT`` pieces sealed to a fresh key, opened in order.

A command that fails raises the relay error its ``ERR`` stands for
(:class:`QuotaExceeded`, :class:`RelayDiskFull`, :class:`NoChunk`, ...); a lost
connection raises :class:`ConnectionLost`: every file command may be repeated.
"""

from __future__ import annotations

from typing import TypeVar

from veil.crypto import InvalidKey, RandomSource, X25519KeyPair
from veil.files import commands as fc
from veil.files.errors import MalformedFileCommand
from veil.files.pieces import ChunkAssembler, download_key, split_into_pieces
from veil.relay.client.relay_client import RelayClient
from veil.relay.client.session import FILE_RESPONSE_TAGS, ClientSession
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import UnexpectedResponse, UnknownCommand, error_for_code

__all__ = ["FILES_VERSION", "FileRelayClient", "decode_answer"]

FILES_VERSION = 3
"""The first relay protocol version with file commands."""

_Answer = fc.FileResponse | rsp.Response
_T = TypeVar("_T")


def decode_answer(body: bytes) -> _Answer:
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


def _expect(answer: _Answer, kind: type[_T]) -> _T:
    if not isinstance(answer, kind):
        raise UnexpectedResponse(f"relay answered {type(answer).__name__}, not {kind.__name__}")
    return answer


class FileRelayClient:
    """File commands over one relay client."""

    def __init__(self, client: RelayClient, rng: RandomSource) -> None:
        self.client = client
        self._rng = rng

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
        ids = _expect(await self._one(command, b"", sender), fc.ChunkIds)
        recipient_ids = list(ids.recipient_ids)
        for start in range(0, len(rest), fc.MAX_KEYS_PER_COMMAND):
            more = fc.AddRecipients(rest[start : start + fc.MAX_KEYS_PER_COMMAND])
            added = _expect(await self._one(more, ids.sender_id, sender), fc.RecipientIds)
            recipient_ids += added.recipient_ids
        return fc.ChunkIds(ids.sender_id, tuple(recipient_ids))

    async def put(self, sender_id: bytes, sender_key: bytes, body: bytes) -> None:
        """``FPUT`` every piece of a chunk's body; returns once the relay holds it durably."""
        sender = X25519KeyPair(sender_key)

        def build(session: ClientSession) -> list[tuple[bytes, bytes]]:
            self._require_files(session)
            return [
                session.encoded(fc.encode_file_command(piece), entity_id=sender_id, auth=sender)
                for piece in split_into_pieces(body)
            ]

        def take(reply: bytes) -> bool:
            _expect(decode_answer(reply), rsp.Ok)
            return True

        await self.client.stream(build, take)

    async def get(self, recipient_id: bytes, recipient_key: bytes, size: int) -> bytes:
        """``FGET``: the chunk's encrypted bytes (not yet checked against its digest)."""
        recipient = X25519KeyPair(recipient_key)
        own = X25519KeyPair.generate(self._rng)
        command = fc.encode_file_command(fc.GetChunk(own.public))
        sent: list[bytes] = []
        assembled: list[ChunkAssembler | bytes] = []

        def build(session: ClientSession) -> list[tuple[bytes, bytes]]:
            self._require_files(session)
            sent[:] = [*session.encoded(command, entity_id=recipient_id, auth=recipient)]
            assembled.clear()
            return [(sent[0], sent[1])]

        def take(reply: bytes) -> bool:
            answer = decode_answer(reply)
            if not assembled:
                key = _expect(answer, fc.DownloadKey)
                if key.size != size:
                    raise UnexpectedResponse(f"relay holds {key.size} bytes, not {size}")
                try:
                    assembled.append(
                        ChunkAssembler(download_key(own, key.relay_dh_key), sent[0], size)
                    )
                except InvalidKey as exc:
                    raise UnexpectedResponse("relay download key is not usable") from exc
                return False
            assembler = assembled[0]
            assert isinstance(assembler, ChunkAssembler)
            chunk = assembler.accept(_expect(answer, fc.DownloadPiece))
            if chunk is None:
                return False
            assembled[0] = chunk
            return True

        await self.client.stream(build, take)
        chunk = assembled[0]
        assert isinstance(chunk, bytes)
        return chunk

    async def delete(self, sender_id: bytes, sender_key: bytes) -> None:
        """``FDEL``: the sender withdraws a chunk (its body and sender id)."""
        _expect(await self._one(fc.DeleteChunk(), sender_id, X25519KeyPair(sender_key)), rsp.Ok)

    async def acknowledge(self, recipient_id: bytes, recipient_key: bytes) -> None:
        """``FACK``: the recipient has the chunk; the relay forgets its id."""
        auth = X25519KeyPair(recipient_key)
        _expect(await self._one(fc.AcknowledgeChunk(), recipient_id, auth), rsp.Ok)

    async def _one(self, command: fc.FileCommand, entity: bytes, auth: X25519KeyPair) -> _Answer:
        body = fc.encode_file_command(command)
        answers: list[_Answer] = []

        def build(session: ClientSession) -> list[tuple[bytes, bytes]]:
            self._require_files(session)
            return [session.encoded(body, entity_id=entity, auth=auth)]

        def take(reply: bytes) -> bool:
            answers.append(decode_answer(reply))
            return True

        await self.client.stream(build, take)
        return answers[0]

    @staticmethod
    def _require_files(session: ClientSession) -> None:
        if session.version < FILES_VERSION:
            raise UnknownCommand(f"the relay speaks version {session.version}; files need 3")
