"""A file transfer's folder on disk: staging, records, partial output (sync I/O).

The sender encrypts the whole file once into ``staged`` before anything is uploaded
(``files.md`` section 3: uploads and retries send bytes from it and never encrypt
again), then keeps ``upload.rec`` after every relay answer. The recipient keeps
``download.rec`` after every chunk written into ``<output>.part``. Every record is
written to a temporary file, fsynced and renamed, so a process killed at any point
leaves the last record whole. Memory: one 64 KiB segment while staging.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from veil.crypto import RandomSource
from veil.files.download import DownloadRecord, decode_download_record, encode_download_record
from veil.files.layout import place_chunks, plan_layout
from veil.files.stream import FileSecret, encrypt_stream
from veil.files.upload import ChunkDigests, ChunkStage, Upload
from veil.files.upload_record import decode_upload_record, encode_upload_record

__all__ = ["TransferFolder", "write_atomically"]

_READ_SIZE = 1 << 20


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: write a temporary file, fsync it, rename it."""
    temp = path.with_name(path.name + ".tmp")
    with temp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(path)


class TransferFolder:
    """The folder that holds one transfer's state (one per upload or download)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    @property
    def staged(self) -> Path:
        """The encrypted file, whole, once staging finished."""
        return self.path / "staged"

    def load_upload(self, rng: RandomSource) -> Upload | None:
        """The upload saved here, or ``None`` if staging never finished (the record is
        written only after ``staged`` is whole)."""
        record = self.path / "upload.rec"
        if not record.exists():
            return None
        return Upload(decode_upload_record(record.read_bytes()), rng)

    def save_upload(self, upload: Upload) -> None:
        """Persist the upload's progress (after every relay answer)."""
        write_atomically(self.path / "upload.rec", encode_upload_record(upload.record()))

    async def save_upload_soon(self, upload: Upload) -> None:
        """:meth:`save_upload` with the disk work on a thread (the loop keeps serving)."""
        data = encode_upload_record(upload.record())
        await asyncio.to_thread(write_atomically, self.path / "upload.rec", data)

    def stage(
        self, source: Path, relays: Sequence[str], recipients: int, rng: RandomSource
    ) -> Upload:
        """Encrypt ``source`` once into ``staged`` with a fresh secret, then start an upload.

        An interrupted pass is discarded with its secret; the next draws a new one.
        """
        size = source.stat().st_size
        layout = plan_layout(size)
        secret = FileSecret.generate(rng)
        digests = ChunkDigests(layout)
        partial = self.path / "staged.part"
        with source.open("rb") as reader, partial.open("wb", buffering=_READ_SIZE) as writer:
            for segment in encrypt_stream(secret, layout, reader.read):
                digests.add(segment)
                writer.write(segment)
            writer.flush()
            os.fsync(writer.fileno())
        partial.replace(self.staged)
        start = int.from_bytes(rng.random_bytes(2), "big") % len(relays)
        placement = place_chunks(layout.chunk_count, list(relays), (), start=start)
        upload = Upload.start(
            secret=secret,
            size=size,
            digests=digests.digests(),
            placement=placement,
            recipients=recipients,
            rng=rng,
        )
        self.save_upload(upload)
        return upload

    def read_staged(self, offset: int, size: int) -> bytes:
        """Bytes ``[offset, offset + size)`` of the staged file (one chunk)."""
        with self.staged.open("rb") as handle:
            handle.seek(offset)
            return handle.read(size)

    def load_download(self) -> DownloadRecord | None:
        """The download record saved here, if any."""
        record = self.path / "download.rec"
        return decode_download_record(record.read_bytes()) if record.exists() else None

    async def save_download(self, record: DownloadRecord) -> None:
        """Persist which chunks are on disk (after every chunk written and synced), with
        the disk work on a thread."""
        data = encode_download_record(record)
        await asyncio.to_thread(write_atomically, self.path / "download.rec", data)

    def progress(self) -> tuple[int, int] | None:
        """``(chunks done, chunks in all)`` of the upload or download saved here, if any."""
        download = self.load_download()
        if download is not None:
            return len(download.done), download.chunk_count
        record = self.path / "upload.rec"
        if not record.exists():
            return None
        chunks = decode_upload_record(record.read_bytes()).chunks
        return sum(chunk.stage is ChunkStage.UPLOADED for chunk in chunks), len(chunks)

    def remove_staged(self) -> None:
        """Drop the staged copy once the upload is done (it is as big as the file)."""
        self.staged.unlink(missing_ok=True)
