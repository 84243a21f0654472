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

from veil.crypto import InvalidKey, RandomSource, X25519KeyPair
from veil.files import commands as fc
from veil.files.pieces import ChunkAssembler, download_key
from veil.relay.client.file_uploads import (
    Answer,
    DirectUploads,
    FileUploads,
    decode_answer,
    expect,
    require_files,
)
from veil.relay.client.relay_client import RelayClient
from veil.relay.client.session import ClientSession
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import UnexpectedResponse

__all__ = ["FileRelayClient"]


class FileRelayClient:
    """File commands over one relay client."""

    def __init__(self, client: RelayClient, rng: RandomSource) -> None:
        self.client = client
        self._rng = rng
        self.uploads = FileUploads(DirectUploads(client))
        """``FNEW``, ``FADD``, ``FPUT``, ``FDEL`` on this connection."""

    async def get(self, recipient_id: bytes, recipient_key: bytes, size: int) -> bytes:
        """``FGET``: the chunk's encrypted bytes (not yet checked against its digest)."""
        recipient = X25519KeyPair(recipient_key)
        own = X25519KeyPair.generate(self._rng)
        command = fc.encode_file_command(fc.GetChunk(own.public))
        sent: list[bytes] = []
        assembled: list[ChunkAssembler | bytes] = []

        def build(session: ClientSession) -> list[tuple[bytes, bytes]]:
            require_files(session)
            sent[:] = [*session.encoded(command, entity_id=recipient_id, auth=recipient)]
            assembled.clear()
            return [(sent[0], sent[1])]

        def take(reply: bytes) -> bool:
            answer = decode_answer(reply)
            if not assembled:
                key = expect(answer, fc.DownloadKey)
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
            chunk = assembler.accept(expect(answer, fc.DownloadPiece))
            if chunk is None:
                return False
            assembled[0] = chunk
            return True

        await self.client.stream(build, take)
        chunk = assembled[0]
        assert isinstance(chunk, bytes)
        return chunk

    async def acknowledge(self, recipient_id: bytes, recipient_key: bytes) -> None:
        """``FACK``: the recipient has the chunk; the relay forgets its id."""
        auth = X25519KeyPair(recipient_key)
        expect(await self._one(fc.AcknowledgeChunk(), recipient_id, auth), rsp.Ok)

    async def _one(self, command: fc.FileCommand, entity: bytes, auth: X25519KeyPair) -> Answer:
        body = fc.encode_file_command(command)
        return decode_answer(await self.uploads.port.command(body, entity, auth))
