"""The agent's file transfers: the pure upload and download machines, run over relays.

:class:`FileTransfers` drives :class:`~veil.files.upload.Upload` and
:class:`~veil.files.download.Download` (``files.md`` sections 5 and 6) with
:class:`~veil.relay.client.file_client.FileRelayClient` on the agent's relay
connections, at most ``upload_parallel`` (2) or ``download_parallel`` (4) chunks at a
time, persisting the record in the
transfer's :class:`~veil.agent.file_staging.TransferFolder` after every answer. Run
again after a crash, it resumes: a finished chunk is never sent or fetched again.

Failures: a relay whose quota or disk is full stops the upload at once with
:class:`FileRelayFull` (nothing unacknowledged counts; run it again once there is
room). Lost connections and timeouts are retried; a relay that fails ``attempts``
times in a row is taken for down and its unfinished chunks move to the other relays
(``replace_failed``), and with none left :class:`FileTransferStalled` is raised. A
chunk missing on its relay, or failing its digest ``attempts`` times, is
:class:`FileChunkLost`; nothing of it is ever written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from veil.agent.errors import FileChunkLost, FileRelayFull, FileTransferStalled
from veil.agent.file_staging import TransferFolder
from veil.crypto import RandomSource
from veil.errors import VeilError
from veil.files.commands import ChunkIds
from veil.files.description import EncryptedBlob
from veil.files.download import ChunkFetch, Download
from veil.files.errors import ChunkTampered, NoRelayAvailable, StreamAuthenticationFailed
from veil.files.upload import PutChunk, RegisterChunk, Upload
from veil.relay.client.file_client import FileRelayClient
from veil.relay.client.file_uploads import FileUploads, UploadPort
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.errors import (
    ConnectionLost,
    NoChunk,
    QuotaExceeded,
    RelayDiskFull,
    UnknownCommand,
)

__all__ = ["ChunkDone", "ClientFor", "FileTransfers"]

ClientFor = Callable[[str], Awaitable[RelayClient]]
"""Gives the agent's connection to a relay address (``RelayPool.client``)."""
UploadPortFor = Callable[[str], Awaitable[UploadPort]]
"""Gives where uploads to a relay go (``RoutedRelays.upload_port``: private routing)."""

#: One chunk (4 MiB at most) must go up or come down within this time on a slow link.
CHUNK_TIMEOUT_SECONDS = 300.0
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ChunkDone:
    """Progress: chunk ``index`` went ``direction`` ("up" or "down"); ``done`` of ``total``."""

    direction: str
    index: int
    done: int
    total: int
    chunk_size: int


Progress = Callable[[ChunkDone], None]


def _ignore(_: ChunkDone) -> None:
    return None


class FileTransfers:
    """Uploads and downloads files through file relays, resumably."""

    def __init__(
        self,
        client_for: ClientFor,
        rng: RandomSource,
        *,
        upload_parallel: int = 2,
        download_parallel: int = 4,
        attempts: int = 5,
        retry_delay: float = 1.0,
        password: bytes = b"",
        upload_port_for: UploadPortFor | None = None,
    ) -> None:
        self._client_for = client_for
        self._upload_port_for = upload_port_for
        self._rng = rng
        # An upload queues a whole chunk on the connection at once (its pieces are
        # answered once), so each one in flight holds a few copies of a chunk: two
        # keep the relay busy while holding the sender's memory down.
        self._upload_parallel = upload_parallel
        self._download_parallel = download_parallel
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._password = password

    async def upload(
        self,
        source: Path,
        folder: TransferFolder,
        relays: Sequence[str],
        *,
        recipients: int = 1,
        on_progress: Progress = _ignore,
    ) -> Upload:
        """Stage (once) and upload ``source``; resumes the upload saved in ``folder``."""
        upload = folder.load_upload(self._rng)
        if upload is None:
            upload = await asyncio.to_thread(folder.stage, source, relays, recipients, self._rng)
        failures: Counter[str] = Counter()
        down: set[str] = set()
        async with _Tasks[RegisterChunk | PutChunk, object]() as tasks:
            while not upload.complete:
                for action in upload.next_actions(self._upload_parallel):
                    tasks.start(action, self._act(folder, action))
                action, result, error = await tasks.next()
                if error is None:
                    failures[action.relay] = 0
                    finished = self._answered(upload, action, result)
                    await folder.save_upload_soon(upload)
                    if finished:
                        done, total = upload.progress
                        on_progress(ChunkDone("up", action.index, done, total, action.size))
                    continue
                upload.action_failed(action.index)
                if isinstance(error, QuotaExceeded | RelayDiskFull):
                    raise _relay_full(action.relay, error) from error
                failures[action.relay] += 1
                if isinstance(error, UnknownCommand):  # not a file relay: no use retrying
                    failures[action.relay] = self._attempts
                if failures[action.relay] >= self._attempts:
                    down.add(action.relay)
                    try:
                        upload.relays_down(relays, down)
                    except NoRelayAvailable as exc:
                        raise _stalled(error) from exc
                await asyncio.sleep(self._retry_delay)
        folder.remove_staged()
        return upload

    async def _connected(self, relay: str) -> FileRelayClient:
        """The relay's file commands, or :class:`ConnectionLost` at once while it is away
        (its client reconnects meanwhile): a chunk never waits long for a dead relay."""
        client = await self._client_for(relay)
        if not client.connected:
            raise ConnectionLost(f"relay {relay} is not connected; retrying")
        return FileRelayClient(client, self._rng)

    async def _uploads(self, relay: str) -> FileUploads:
        """Upload commands for ``relay``: through the port the routing policy gives, or
        direct; :class:`ConnectionLost` at once while that connection is away."""
        if self._upload_port_for is None:
            return (await self._connected(relay)).uploads
        port = await self._upload_port_for(relay)
        if not port.ready:
            raise ConnectionLost(f"the way to relay {relay} is not connected; retrying")
        return FileUploads(port)

    async def _act(self, folder: TransferFolder, action: RegisterChunk | PutChunk) -> object:
        files = await self._uploads(action.relay)
        async with asyncio.timeout(CHUNK_TIMEOUT_SECONDS):
            if isinstance(action, RegisterChunk):
                return await files.register(
                    action.size,
                    action.digest,
                    action.sender_key,
                    action.recipient_auth_keys,
                    password=self._password,
                )
            body = await asyncio.to_thread(folder.read_staged, action.offset, action.size)
            await files.put(action.sender_id, action.sender_key, body)
            return None

    @staticmethod
    def _answered(upload: Upload, action: RegisterChunk | PutChunk, result: object) -> bool:
        """Take a relay's answer; True if it finished a chunk's upload."""
        if isinstance(action, RegisterChunk):
            assert isinstance(result, ChunkIds)
            upload.chunk_registered(action.index, result.sender_id, result.recipient_ids)
            return False
        upload.chunk_uploaded(action.index)
        return True

    async def download(
        self,
        blob: EncryptedBlob,
        folder: TransferFolder,
        output: Path,
        *,
        on_progress: Progress = _ignore,
    ) -> Path:
        """Fetch, verify and decrypt ``blob`` into ``output``; resumes from ``folder``."""
        download = Download(blob, folder.load_download())
        partial = output.with_name(output.name + ".part")
        failures: Counter[int] = Counter()
        descriptor = os.open(partial, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            async with _Tasks[ChunkFetch, bytes]() as tasks:
                while not download.complete:
                    for fetch in download.next_fetches(self._download_parallel):
                        tasks.start(fetch, self._fetch(fetch))
                    fetch, data, error = await tasks.next()
                    if error is not None:
                        download.chunk_failed(fetch.index)
                    else:
                        error = await self._write(download, folder, fetch, data, descriptor)
                    if error is None:
                        done, total = download.progress
                        on_progress(ChunkDone("down", fetch.index, done, total, fetch.size))
                        continue
                    failures[fetch.index] += 1
                    self._check_failure(fetch, error, failures[fetch.index])
                    await asyncio.sleep(self._retry_delay)
            await asyncio.to_thread(_finish_output, descriptor, blob.size)
        finally:
            os.close(descriptor)
        partial.replace(output)
        await self._acknowledge(download)
        return output

    async def _fetch(self, fetch: ChunkFetch) -> bytes:
        files = await self._connected(fetch.relay)
        async with asyncio.timeout(CHUNK_TIMEOUT_SECONDS):
            return await files.get(fetch.recipient_id, fetch.recipient_key, fetch.size)

    @staticmethod
    async def _write(
        download: Download, folder: TransferFolder, fetch: ChunkFetch, data: bytes, fd: int
    ) -> Exception | None:
        """Verify, decrypt and write one chunk; the error if it did not check out."""
        try:
            plain = download.chunk_fetched(fetch.index, data)
        except (ChunkTampered, StreamAuthenticationFailed) as exc:
            return exc  # released by the machine: fetched again
        await asyncio.to_thread(_write_at, fd, plain.data, plain.offset)
        download.chunk_written(fetch.index)
        await folder.save_download(download.record())
        return None

    def _check_failure(self, fetch: ChunkFetch, error: Exception, count: int) -> None:
        if isinstance(error, NoChunk):
            raise FileChunkLost(f"chunk {fetch.index} is gone from {fetch.relay}") from error
        if count < self._attempts:
            return
        if isinstance(error, ChunkTampered | StreamAuthenticationFailed):
            raise FileChunkLost(f"chunk {fetch.index} failed its check {count} times") from error
        raise FileTransferStalled(f"{fetch.relay} keeps failing: {error}") from error

    async def _acknowledge(self, download: Download) -> None:
        """``FACK`` every recipient id; the file is safe already, so failures only wait
        for expiry on the relay."""
        for ack in download.acknowledgements():
            with contextlib.suppress(VeilError, OSError, TimeoutError):
                files = FileRelayClient(await self._client_for(ack.relay), self._rng)
                async with asyncio.timeout(CHUNK_TIMEOUT_SECONDS):
                    await files.acknowledge(ack.recipient_id, ack.recipient_key)


def _stalled(error: Exception) -> FileTransferStalled:
    if isinstance(error, UnknownCommand):
        return FileTransferStalled(
            "none of your relays enabled for receiving stores files (the operator enables "
            "[files]); add one that does (`veil relays add`), then send again"
        )
    return FileTransferStalled(f"no file relay answers ({error}); run the transfer again later")


def _relay_full(relay: str, error: Exception) -> FileRelayFull:
    full = "disk is full" if isinstance(error, RelayDiskFull) else "file storage quota is used up"
    return FileRelayFull(
        f"file relay {relay} has no room (its {full}); once there is room (or with another "
        "file relay enabled) run the transfer again: finished chunks are not sent again"
    )


def _write_at(descriptor: int, data: bytes, offset: int) -> None:
    os.pwrite(descriptor, data, offset)
    os.fsync(descriptor)


def _finish_output(descriptor: int, size: int) -> None:
    os.ftruncate(descriptor, size)
    os.fsync(descriptor)


_Item = TypeVar("_Item")


class _Tasks(Generic[_Item, _T]):
    """Tasks in flight, each for one item; cancelled together on the way out."""

    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[_T], _Item] = {}

    def start(self, item: _Item, work: Coroutine[Any, Any, _T]) -> None:
        """Run ``work`` for ``item``."""
        self._tasks[asyncio.create_task(work)] = item

    async def next(self) -> tuple[_Item, _T, Exception | None]:
        """The next task to finish: its item, its result (or ``None``) and its error."""
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        task = next(iter(done))
        item = self._tasks.pop(task)
        error = task.exception()
        if error is None:
            return item, task.result(), None
        if not isinstance(error, Exception):
            raise error
        return item, cast(_T, None), error

    async def __aenter__(self) -> _Tasks[_Item, _T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
