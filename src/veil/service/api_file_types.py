"""The API's shapes for file transfers (``file.*`` methods, ``veil files --json``).

Beside :mod:`veil.service.api_types`, and like it free of chat imports. Paths are
on the machine that runs the service, so the methods take them absolute.
"""

# No ``from __future__ import annotations``: TypedDict must see ``NotRequired`` itself.
from typing import Literal, NotRequired, TypedDict

__all__ = [
    "FileListResult",
    "FileReceiveParams",
    "FileReceiveResult",
    "FileSendParams",
    "FileSettingsParams",
    "FileSettingsResult",
    "FileShape",
    "FileStateName",
    "UploadShape",
]

FileStateName = Literal["sent", "offered", "downloading", "received", "failed"]


class FileShape(TypedDict):
    """One transfer. ``id`` is its row (for ``file.receive``, and the ``id`` of its
    events); ``direction`` is ``sent`` or ``received``; ``path`` is the file sent, or
    where a received one was saved; ``size`` is 0 for a large offer whose details
    arrive with the download. ``chunks_done``/``chunks``: a download under way."""

    id: int
    contact: str
    direction: Literal["sent", "received"]
    name: str
    mime_type: str
    size: int
    state: FileStateName
    path: str | None
    preview_bytes: int
    chunks_done: NotRequired[int]
    chunks: NotRequired[int]


class UploadShape(TypedDict):
    """A send not finished (sending the same file again resumes it)."""

    contact: str
    name: str
    size: int
    chunks_done: int
    chunks: int


class FileSendParams(TypedDict):
    """``path``: an absolute path the service can read. Images lose their metadata
    unless ``keep_metadata``."""

    contact: str
    path: str
    keep_metadata: NotRequired[bool]


class FileListResult(TypedDict):
    """Every transfer, the sends under way, and the automatic acceptance limit."""

    transfers: list[FileShape]
    uploading: list[UploadShape]
    auto_accept_bytes: int


class FileReceiveParams(TypedDict):
    """Download the offer ``id``, or with ``auto`` every offer within the automatic
    acceptance limit, into the absolute folder ``to`` (default: the profile's
    ``downloads`` folder)."""

    id: NotRequired[int | None]
    auto: NotRequired[bool]
    to: NotRequired[str | None]


class FileReceiveResult(TypedDict):
    received: list[FileShape]


class FileSettingsParams(TypedDict):
    """Set the automatic acceptance limit in bytes (0 turns it off); leave it out to
    read the settings only."""

    auto_accept_bytes: NotRequired[int | None]


class FileSettingsResult(TypedDict):
    """Offers up to ``auto_accept_bytes`` are downloaded as they arrive into
    ``downloads`` (while ``veil serve`` or ``veil receive`` runs)."""

    auto_accept_bytes: int
    downloads: str
