"""The API's file methods (``file.send``, ``file.list``, ``file.receive``,
``file.settings``) over :class:`~veil.chat.files.FileSharing`.

A transfer runs for as long as the call: its progress and outcome go to the event
log (``file-progress``, ``file-done``, ``file-failed``; :mod:`veil.chat.file_events`),
so a client follows it with ``subscribe`` on the same or another connection. A
connection answers its requests in order, so a client that wants to call other
methods during a long transfer uses a second connection. Paths are the service's:
they must be absolute (the service's working folder is not the caller's).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from veil.chat.app import Messenger
from veil.chat.files import FileSharing
from veil.chat.store.files import FileTransferRecord
from veil.service import api_file_types as ft

__all__ = ["FILE_HANDLERS", "file_shape"]


def file_shape(
    record: FileTransferRecord, contact: str, progress: tuple[int, int] | None = None
) -> ft.FileShape:
    """One transfer as the API and ``veil files --json`` show it."""
    shape: ft.FileShape = {
        "id": record.transfer_id,
        "contact": contact,
        "direction": "sent" if record.direction.value == "sent" else "received",
        "name": record.name,
        "mime_type": record.mime_type,
        "size": record.size,
        "state": record.state.value,
        "path": record.path,
        "preview_bytes": len(record.preview),
    }
    if progress is not None:
        shape["chunks_done"], shape["chunks"] = progress
    return shape


@contextlib.asynccontextmanager
async def _sharing(messenger: Messenger) -> AsyncIterator[FileSharing]:
    sharing = FileSharing(messenger, messenger.store.path.parent)
    try:
        with _plain_os_errors():
            yield sharing
    finally:
        await sharing.close()


@contextlib.contextmanager
def _plain_os_errors() -> Iterator[None]:
    """A missing file, a folder that cannot be written: the caller's to fix, said so."""
    try:
        yield
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        raise ValueError(f"{error.strerror or error}{where}: check the path") from error


def _absolute(text: str, what: str) -> Path:
    path = Path(text)
    if not path.is_absolute():
        raise ValueError(f"{what} must be an absolute path (the service's folder is not yours)")
    return path


def _alias(messenger: Messenger, contact_id: int) -> str:
    with messenger.store.transaction() as tx:
        return tx.contacts.get(contact_id).alias


async def _send(messenger: Messenger, params: ft.FileSendParams) -> ft.FileShape:
    source = _absolute(params["path"], "path")
    if not source.is_file():
        raise ValueError(f"no file at {source}")
    async with _sharing(messenger) as sharing:
        record = await sharing.send_file(
            params["contact"], source, keep_metadata=params.get("keep_metadata", False)
        )
    return file_shape(record, _alias(messenger, record.contact_id))


async def _list(messenger: Messenger, _: object) -> ft.FileListResult:
    async with _sharing(messenger) as sharing:
        with messenger.store.transaction() as tx:
            aliases = {c.contact_id: c.alias for c in tx.contacts.list()}
        transfers = [
            file_shape(r, aliases.get(r.contact_id, "?"), sharing.progress(r.transfer_id))
            for r in sharing.transfers()
        ]
        uploading: list[ft.UploadShape] = [
            {
                "contact": u["contact"],
                "name": u["name"],
                "size": u["size"],
                "chunks_done": u["chunks_done"],
                "chunks": u["chunks"],
            }
            for u in sharing.uploads_under_way()
        ]
        limit = sharing.auto_accept_bytes()
    return {"transfers": transfers, "uploading": uploading, "auto_accept_bytes": limit}


async def _receive(messenger: Messenger, params: ft.FileReceiveParams) -> ft.FileReceiveResult:
    number, auto = params.get("id"), params.get("auto", False)
    if (number is None) == (not auto):
        raise ValueError("give either a file id (`file.list` shows them) or auto")
    to = params.get("to")
    async with _sharing(messenger) as sharing:
        target = sharing.downloads if to is None else _absolute(to, "to")
        if number is not None:
            numbers = [number]
        else:
            numbers = [offer.transfer_id for offer in sharing.auto_accepted()]
        records = [await sharing.receive_file(n, target) for n in numbers]
    return {"received": [file_shape(r, _alias(messenger, r.contact_id)) for r in records]}


async def _settings(messenger: Messenger, params: ft.FileSettingsParams) -> ft.FileSettingsResult:
    async with _sharing(messenger) as sharing:
        limit = params.get("auto_accept_bytes")
        if limit is not None:
            sharing.set_auto_accept_bytes(limit)
        limit, downloads = sharing.auto_accept_bytes(), str(sharing.downloads)
    return {"auto_accept_bytes": limit, "downloads": downloads}


#: The file methods, by API name (merged into :data:`veil.service.methods.HANDLERS`).
FILE_HANDLERS: dict[str, Callable[[Messenger, Any], Awaitable[Any]]] = {
    "file.send": _send,
    "file.list": _list,
    "file.receive": _receive,
    "file.settings": _settings,
}
