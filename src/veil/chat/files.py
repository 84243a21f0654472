"""Sending and receiving files with contacts (``veil send-file``, ``files``, ``receive-file``).

:class:`FileSharing` takes what it needs from a :class:`~veil.chat.app.Messenger`:
the store, the agent (to send the :class:`FileOffered` event over the contact's
connection) and the routing policy (its relays are the file relays; SOCKS5 if set).
The bytes go through the agent's :class:`~veil.agent.file_transfers.FileTransfers`
on connections of their own, so a large transfer never holds up messages. Each
transfer keeps its state in a folder under ``<home>/files``: run the same command
again after a crash and it resumes.

Images (JPEG, PNG, WebP, HEIC) are cleaned of their metadata before they leave
(``files.md`` section 9) and travel with a preview, unless ``keep_metadata``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

from veil.agent.errors import FileChunkLost
from veil.agent.file_staging import TransferFolder, write_atomically
from veil.agent.file_transfers import ChunkDone, FileTransfers, Progress
from veil.agent.relay_pool import RelayPool
from veil.agent.routing_port import RoutedRelays
from veil.chat.app import Messenger
from veil.chat.contacts import connection_of
from veil.chat.errors import FilesNotSupported
from veil.chat.events import FileOffered, encode_event, new_message_id
from veil.chat.file_events import TransferEvents
from veil.chat.file_offers import AUTO_ACCEPT_SETTING
from veil.chat.file_prepare import PreparedFile, prepare
from veil.chat.store import Contact, Direction
from veil.chat.store.files import FileTransferRecord, TransferState
from veil.errors import VeilError
from veil.files.description import (
    FileDescription,
    RedirectDescription,
    decode_description,
    encode_description,
    fits_inline,
    follow_redirect,
    redirect_to,
)
from veil.routing.socks import SocksConnector

__all__ = [
    "DOWNLOADS_FOLDER",
    "FILES_AGENT_VERSION",
    "FILES_FOLDER",
    "FileSharing",
    "follow",
    "upload_redirect",
]

FILES_FOLDER = "files"
#: Where offers within the automatic acceptance limit are saved, in the profile folder.
DOWNLOADS_FOLDER = "downloads"
#: The lowest agent version whose every client reads file offers: files reached Veil
#: while 1..2 was current, so a version 2 peer may predate them (and would drop the offer).
FILES_AGENT_VERSION = 3


def _quiet(_: ChunkDone) -> None:
    return None


def _both(first: Progress, second: Progress) -> Progress:
    def report(chunk: ChunkDone) -> None:
        first(chunk)
        second(chunk)

    return report


class FileSharing:
    """Files sent to and received from the contacts of one profile in ``home``."""

    # Downloads under way in this process, by transfer folder: the service's automatic
    # downloads and a file.receive call must not write one transfer's folder together
    # (one process holds the store, so no other process downloads from it).
    _downloading: ClassVar[set[Path]] = set()

    def __init__(self, messenger: Messenger, home: Path) -> None:
        self._messenger = messenger
        self._root = home / FILES_FOLDER
        self.downloads = home / DOWNLOADS_FOLDER
        """Where automatically accepted offers are saved."""
        policy = messenger.policy
        rng = messenger.rng
        dialer = None if policy.socks is None else SocksConnector(policy.socks, rng)
        self._pool = RelayPool(rng, dialer=dialer)
        routed = RoutedRelays(self._pool, policy, rng)  # uploads take the private route
        self._transfers = FileTransfers(self._pool.client, rng, upload_port_for=routed.upload_port)
        # The file relays: those enabled for receiving (the user's storage relays), not
        # relays listed only as proxies.
        self._relays = [str(relay.address) for relay in policy.relays if relay.receive]

    async def close(self) -> None:
        """Close the file relay connections."""
        await self._pool.close()

    # -- sending -------------------------------------------------------------------

    async def send_file(
        self, alias: str, source: Path, *, keep_metadata: bool, on_progress: Progress = _quiet
    ) -> FileTransferRecord:
        """Upload ``source`` and offer it to the contact; resumes an interrupted send.
        Logs its progress and outcome (:mod:`veil.chat.file_events`);
        :class:`FilesNotSupported` if the contact's Veil is too old for files."""
        contact = self._messenger.contact(alias)
        self._check_files_supported(contact.contact_id, contact.alias)
        events = TransferEvents(
            self._messenger.store, self._messenger.now, contact.alias, transfer_id=None
        )
        try:
            record = await self._upload_and_offer(
                contact, source, keep_metadata, _both(on_progress, events.progress)
            )
        except Exception as error:
            events.failed(error)
            raise
        events.transfer_id = record.transfer_id
        events.done(record.name)
        return record

    def _check_files_supported(self, contact_id: int, alias: str) -> None:
        with self._messenger.store.transaction() as tx:
            connection_id = connection_of(tx, contact_id)
        version = self._messenger.agent.connection(connection_id).agent_version
        if version < FILES_AGENT_VERSION:
            raise FilesNotSupported(
                f"{alias}'s Veil is too old to receive files (agent version {version}, files "
                f"need {FILES_AGENT_VERSION}): ask {alias} to update Veil, then send again"
            )

    async def _upload_and_offer(
        self, contact: Contact, source: Path, keep_metadata: bool, on_progress: Progress
    ) -> FileTransferRecord:
        stat = source.stat()
        key = f"{contact.contact_id}\0{source.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
        folder = TransferFolder(
            self._root / ("out-" + hashlib.sha256(key.encode()).hexdigest()[:24])
        )
        meta = folder.path / "sending.json"
        if not meta.exists():
            about = {"contact": contact.alias, "name": source.name, "size": stat.st_size}
            write_atomically(meta, json.dumps(about).encode("utf-8"))
        prepared = prepare(source, folder, keep_metadata=keep_metadata)
        upload = await self._transfers.upload(
            prepared.path, folder, self._relays, on_progress=on_progress
        )
        (description,) = upload.descriptions(prepared.name, prepared.mime_type)
        encoded = encode_description(description)
        if not fits_inline(encoded):
            encoded = await upload_redirect(self._transfers, self._relays, encoded, folder)
        size = description.blob.size
        record = await self._offer(contact.contact_id, source, prepared, encoded, size)
        # Sent: the folder's state is of no more use, and sending the file again later
        # is a new upload with a new key.
        shutil.rmtree(folder.path, ignore_errors=True)
        return record

    async def _offer(
        self, contact_id: int, source: Path, prepared: PreparedFile, encoded: bytes, size: int
    ) -> FileTransferRecord:
        messenger = self._messenger
        now = messenger.now()
        offer = FileOffered(
            new_message_id(messenger.rng), int(now * 1000), encoded, prepared.preview
        )
        record = FileTransferRecord(
            0,
            contact_id,
            Direction.SENT,
            offer.message_id,
            prepared.name,
            prepared.mime_type,
            size,
            TransferState.SENT,
            encoded,
            prepared.preview,
            str(source),
            now,
        )
        with messenger.store.transaction() as tx:
            messenger.agent.send(tx, connection_of(tx, contact_id), [encode_event(offer)])
            stored = tx.files.add(record)
        await messenger.agent.outbox.flush(force=True)
        return stored

    # -- receiving -----------------------------------------------------------------

    def transfers(self) -> list[FileTransferRecord]:
        """Every file sent or offered, oldest first."""
        with self._messenger.store.transaction() as tx:
            return tx.files.list()

    def progress(self, transfer_id: int) -> tuple[int, int] | None:
        """``(chunks done, chunks in all)`` of a download under way, if one is."""
        folder = self._root / f"in-{transfer_id}"
        return TransferFolder(folder).progress() if folder.exists() else None

    def uploads_under_way(self) -> list[dict[str, Any]]:
        """Sends not finished yet (run ``veil send-file`` again to resume them)."""
        found = []
        for meta in sorted(self._root.glob("out-*/sending.json")):
            about: dict[str, Any] = json.loads(meta.read_text(encoding="utf-8"))
            done_total = TransferFolder(meta.parent).progress()
            done, total = done_total if done_total is not None else (0, 0)
            found.append(about | {"chunks_done": done, "chunks": total})
        return found

    def auto_accept_bytes(self) -> int:
        """Offers up to this size are downloaded without asking (0: never)."""
        with self._messenger.store.transaction() as tx:
            return tx.files.setting(AUTO_ACCEPT_SETTING, 0)

    def set_auto_accept_bytes(self, limit: int) -> None:
        """Set the automatic acceptance limit (0 turns it off)."""
        if limit < 0:
            raise ValueError("the automatic acceptance limit cannot be negative")
        with self._messenger.store.transaction() as tx:
            tx.files.set_setting(AUTO_ACCEPT_SETTING, limit)

    def auto_accepted(self) -> list[FileTransferRecord]:
        """Offers waiting that are small enough to download without asking."""
        limit = self.auto_accept_bytes()
        return [
            record
            for record in self.transfers()
            if record.direction is Direction.RECEIVED
            and record.state in (TransferState.OFFERED, TransferState.DOWNLOADING)
            and 0 < record.size <= limit
        ]

    async def receive_file(
        self, transfer_id: int, target: Path, *, on_progress: Progress = _quiet
    ) -> FileTransferRecord:
        """Download an offered file into the folder ``target``; resumes where it stopped.
        Logs its progress and outcome (:mod:`veil.chat.file_events`)."""
        store = self._messenger.store
        with store.transaction() as tx:
            record = tx.files.get(transfer_id)
            if record.direction is not Direction.RECEIVED:
                raise ValueError(f"file #{transfer_id} is one you sent")
            if record.state is TransferState.RECEIVED:
                raise ValueError(f"file #{transfer_id} was received already: {record.path}")
            tx.files.set_state(transfer_id, TransferState.DOWNLOADING)
            alias = tx.contacts.get(record.contact_id).alias
        events = TransferEvents(store, self._messenger.now, alias, transfer_id)
        folder = self._root / f"in-{transfer_id}"
        if folder in self._downloading:
            raise ValueError(f"file #{transfer_id} is being downloaded already: wait for it")
        self._downloading.add(folder)
        try:
            output = await self._download(record, target, _both(on_progress, events.progress))
        except Exception as error:
            events.failed(error)
            raise
        finally:
            self._downloading.discard(folder)
        with store.transaction() as tx:
            tx.files.set_state(transfer_id, TransferState.RECEIVED, str(output))
            record = tx.files.get(transfer_id)
        events.done(str(output))
        return record

    async def _download(
        self, record: FileTransferRecord, target: Path, on_progress: Progress
    ) -> Path:
        folder = TransferFolder(self._root / f"in-{record.transfer_id}")
        try:
            description = await follow(
                self._transfers, decode_description(record.description), folder
            )
            output = _free_name(target, description.name, folder)
            await self._transfers.download(
                description.blob, folder, output, on_progress=on_progress
            )
        except FileChunkLost:
            with self._messenger.store.transaction() as tx:
                tx.files.set_state(record.transfer_id, TransferState.FAILED)
            raise
        shutil.rmtree(folder.path, ignore_errors=True)
        return output

    async def receive_auto_accepted(self) -> list[FileTransferRecord]:
        """Download every offer within the automatic acceptance limit into
        :attr:`downloads`; one that fails is logged (``file-failed``) and skipped."""
        received = []
        for offer in self.auto_accepted():
            try:
                received.append(await self.receive_file(offer.transfer_id, self.downloads))
            except (VeilError, OSError, ValueError):
                continue  # logged as file-failed (or under way already); retried later
        return received


async def upload_redirect(
    transfers: FileTransfers, relays: list[str], encoded: bytes, folder: TransferFolder
) -> bytes:
    """Upload a description too large for a message; return the redirect to send."""
    target = folder.path / "description.bin"
    if not target.exists():
        write_atomically(target, encoded)
    inner = TransferFolder(folder.path / "redirect")
    upload = await transfers.upload(target, inner, relays)
    (carrier,) = upload.descriptions("description", "application/octet-stream")
    return encode_description(redirect_to(target.read_bytes(), carrier.blob))


async def follow(
    transfers: FileTransfers,
    description: FileDescription | RedirectDescription,
    folder: TransferFolder,
) -> FileDescription:
    """The file description, fetched first if the offer carried a redirect."""
    if isinstance(description, FileDescription):
        return description
    fetched = folder.path / "description.bin"
    if not fetched.exists():
        inner = TransferFolder(folder.path / "redirect")
        await transfers.download(description.blob, inner, fetched)
    return follow_redirect(description, fetched.read_bytes())


def _free_name(target: Path, name: str, folder: TransferFolder) -> Path:
    """Where to save ``name`` in ``target``: never over an existing file. The choice is
    kept in the transfer's folder, so a resumed download writes the same file."""
    chosen = folder.path / "output-name"
    if chosen.exists():
        return target / chosen.read_text(encoding="utf-8")
    target.mkdir(parents=True, exist_ok=True)
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = name, 1
    while (target / candidate).exists() or (target / (candidate + ".part")).exists():
        candidate = f"{stem} ({number}){suffix}"
        number += 1
    write_atomically(chosen, candidate.encode("utf-8"))
    return target / candidate
