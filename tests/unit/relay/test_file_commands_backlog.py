"""The relay's file commands: a connection cannot pile up an unbounded backlog."""

from __future__ import annotations

import time
from pathlib import Path

from veil.crypto import SystemRandom
from veil.files.commands import PutPiece, encode_file_command
from veil.relay.protocol.errors import TooManyUploads
from veil.relay.protocol.queue_responses import ErrorResponse, decode_response
from veil.relay.protocol.transmission import decode_transmission, encode_transmission
from veil.relay.server.core import RelayProtocol
from veil.relay.server.file_commands import MAX_QUEUED_COMMANDS, FileCommands
from veil.relay.server.file_store import FileChunkStore
from veil.relay.server.file_thread import StoreThread
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.settings import RelaySettings
from veil.wire.blocks import decode_block

RNG = SystemRandom()


def answers(core: RelayProtocol) -> list[int]:
    codes = []
    for _, blocks in core.data_to_send():
        for block in blocks:
            for data in decode_block(block):
                response = decode_response(decode_transmission(data).body)
                assert isinstance(response, ErrorResponse)
                codes.append(response.code)
    return codes


async def test_commands_beyond_the_backlog_are_refused_at_once(tmp_path: Path) -> None:
    core = RelayProtocol(RelaySettings(), RNG, RelayMetrics())
    store = StoreThread(
        lambda: FileChunkStore(tmp_path, quota_bytes=1 << 30, clock=time.time, rng=RNG), time.time
    )
    files = FileCommands(core, lambda: None, store, rng=RNG, password=None)
    session = core.open_session()
    piece = encode_file_command(PutPiece(0, b"x"))
    extra = 3
    for _ in range(MAX_QUEUED_COMMANDS + extra):
        wire = encode_transmission(b"", RNG.random_bytes(24), RNG.random_bytes(24), piece)
        files.commit(files.handle(session, decode_transmission(wire), time.time()))
    assert answers(core) == [TooManyUploads.code] * extra  # the rest wait their turn
    await files.close()
