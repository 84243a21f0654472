"""A local, synchronous adapter around the pure file-transfer machines, for tests.

It does what the agent's adapter will do once the relay serves file commands, but
against a :class:`FileChunkStore` opened directly instead of over the network: the
sender encrypts once into a staging file, then registers and puts chunks piece by
piece; the recipient fetches pieces re-encrypted per download, verifies, decrypts
and writes at offsets. Both persist their record after every answer (write a
temporary file, fsync, rename), so either can be killed and run again.

    python file_transfer.py send SOURCE STORE STATE
    python file_transfer.py receive STORE STATE OUTPUT

Each step is printed (``put-finished i``, ``uploaded i``, ``fetch i``, ``written i``)
so a test can kill the process at a known point and check what is done again.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from veil.crypto.primitives import X25519KeyPair
from veil.crypto.random import SystemRandom
from veil.files.commands import MAX_PIECE_SIZE, DownloadPiece
from veil.files.description import FileDescription, decode_description, encode_description
from veil.files.download import Download, decode_download_record, encode_download_record
from veil.files.layout import place_chunks, plan_layout
from veil.files.pieces import (
    ChunkAssembler,
    PieceReceiver,
    download_key,
    seal_piece,
    split_into_pieces,
)
from veil.files.stream import FileSecret, encrypt_stream
from veil.files.upload import ChunkDigests, PutChunk, RegisterChunk, Upload
from veil.files.upload_record import decode_upload_record, encode_upload_record
from veil.relay.server.file_store import FileChunkStore

RELAY = "veil://local@store.invalid"
PARALLEL = 3
RNG = SystemRandom()


def say(*words: object) -> None:
    print(*words, flush=True)


def write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_suffix(".tmp")
    with temp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(path)


def open_store(root: Path) -> FileChunkStore:
    return FileChunkStore(root, quota_bytes=1 << 40, clock=time.time, rng=RNG)


def stage(source: Path, state: Path) -> Upload:
    """Encrypt once into ``state/staged``; an interrupted pass is redone with a new secret."""
    size = source.stat().st_size
    layout = plan_layout(size)
    secret = FileSecret.generate(RNG)
    digests = ChunkDigests(layout)
    partial = state / "staged.part"
    with source.open("rb") as reader, partial.open("wb") as writer:
        for segment in encrypt_stream(secret, layout, reader.read):
            digests.add(segment)
            writer.write(segment)
        writer.flush()
        os.fsync(writer.fileno())
    partial.replace(state / "staged")
    placement = place_chunks(layout.chunk_count, [RELAY], (), start=0)
    upload = Upload.start(
        secret=secret,
        size=size,
        digests=digests.digests(),
        placement=placement,
        recipients=1,
        rng=RNG,
    )
    write_atomically(state / "upload.rec", encode_upload_record(upload.record()))
    return upload


def put(store: FileChunkStore, action: PutChunk, staged: Path) -> None:
    with staged.open("rb") as handle:
        handle.seek(action.offset)
        body = handle.read(action.size)
    upload = store.begin_put(action.sender_id)
    if upload is None:
        say("put-skipped", action.index)
        return
    receiver = PieceReceiver(action.size)
    for piece in split_into_pieces(body):
        receiver.accept(piece)
        upload.write(piece.piece)
    upload.finish()
    say("put-finished", action.index)


def send(source: Path, store_root: Path, state: Path) -> None:
    record = state / "upload.rec"
    if record.exists():
        upload = Upload(decode_upload_record(record.read_bytes()), RNG)
    else:
        upload = stage(source, state)
    store = open_store(store_root)
    while actions := upload.next_actions(PARALLEL):
        for action in actions:
            if isinstance(action, RegisterChunk):
                ids = store.register(
                    action.size, action.digest, action.sender_auth_key, action.recipient_auth_keys
                )
                upload.chunk_registered(action.index, ids.sender_id, ids.recipient_ids)
            else:
                put(store, action, state / "staged")
                upload.chunk_uploaded(action.index)
            write_atomically(record, encode_upload_record(upload.record()))
            if not isinstance(action, RegisterChunk):
                say("uploaded", action.index)
    (description,) = upload.descriptions(source.name, "application/octet-stream")
    write_atomically(state / "description", encode_description(description))
    say("sent")


def rechunk(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    pending = b""
    for piece in pieces:
        pending += piece
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending


def relay_fget(
    store: FileChunkStore, recipient_id: bytes, recipient_public: bytes, correlation: bytes
) -> tuple[bytes, Iterator[DownloadPiece]]:
    """What the relay does for one FGET: a fresh key (FKEY), then the sealed pieces (FDAT)."""
    relay_key = X25519KeyPair.generate(RNG)
    key = download_key(relay_key, recipient_public)
    body = rechunk(store.read(recipient_id), MAX_PIECE_SIZE)
    sealed = (
        DownloadPiece(index, seal_piece(key, correlation, index, piece))
        for index, piece in enumerate(body)
    )
    return relay_key.public, sealed


def fetch(store: FileChunkStore, recipient_id: bytes, size: int) -> bytes:
    own = X25519KeyPair.generate(RNG)
    correlation = RNG.random_bytes(24)
    relay_public, pieces = relay_fget(store, recipient_id, own.public, correlation)
    assembler = ChunkAssembler(download_key(own, relay_public), correlation, size)
    for piece in pieces:
        chunk = assembler.accept(piece)
        if chunk is not None:
            return chunk
    raise AssertionError("the relay sent fewer pieces than the chunk holds")


def receive(store_root: Path, state: Path, output: Path) -> None:
    description = decode_description((state / "description").read_bytes())
    assert isinstance(description, FileDescription)
    blob = description.blob
    record = state / "download.rec"
    saved = decode_download_record(record.read_bytes()) if record.exists() else None
    download = Download(blob, saved)
    store = open_store(store_root)
    partial = output.with_suffix(".part")
    with partial.open("r+b" if partial.exists() else "w+b") as handle:
        while fetches := download.next_fetches(PARALLEL):
            for item in fetches:
                say("fetch", item.index)
                plain = download.chunk_fetched(
                    item.index, fetch(store, item.recipient_id, item.size)
                )
                os.pwrite(handle.fileno(), plain.data, plain.offset)
                os.fsync(handle.fileno())
                download.chunk_written(item.index)
                write_atomically(record, encode_download_record(download.record()))
                say("written", item.index)
        handle.truncate(blob.size)
        os.fsync(handle.fileno())
    partial.replace(output)
    for ack in download.acknowledgements():
        store.acknowledge(ack.recipient_id)
    say("received")


def main() -> None:
    command, *paths = sys.argv[1:]
    if command == "send":
        send(Path(paths[0]), Path(paths[1]), Path(paths[2]))
    else:
        receive(Path(paths[0]), Path(paths[1]), Path(paths[2]))


if __name__ == "__main__":
    main()
