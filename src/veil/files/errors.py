"""Errors of the file transfer layer (codes 8xx).

Local errors (the caller's file, the local disk, a misconfigured relay list) are
:class:`FilesError` subclasses; what a peer or a relay sent that breaks the protocol
(a malformed description, a chunk that does not match its digest, a stream that does
not authenticate) is a :class:`FileProtocolError`. The relay's chunk store raises
the ``85x`` errors.
"""

from __future__ import annotations

from typing import ClassVar

from veil.errors import ProtocolError, VeilError

__all__ = [
    "ChunkCorrupted",
    "ChunkNotFound",
    "ChunkTampered",
    "CorruptTransferState",
    "DiskFull",
    "FileProtocolError",
    "FileStoreError",
    "FileTooLarge",
    "FilesError",
    "MalformedDescription",
    "MalformedFileCommand",
    "NoRelayAvailable",
    "SourceChanged",
    "StoreQuotaExceeded",
    "StreamAuthenticationFailed",
    "UnsupportedImage",
    "UploadMismatch",
]


class FilesError(VeilError):
    """A local fault while preparing, sending or receiving a file."""

    code: ClassVar[int] = 800


class FileTooLarge(FilesError):
    """The file is larger than Veil sends; split it or compress it first."""

    code: ClassVar[int] = 801


class NoRelayAvailable(FilesError):
    """Every file relay the user enabled is down; enable another or retry later."""

    code: ClassVar[int] = 802


class CorruptTransferState(FilesError):
    """A saved transfer record does not decode; the transfer must start again."""

    code: ClassVar[int] = 803


class SourceChanged(FilesError):
    """The file being sent changed size while it was read; send it again."""

    code: ClassVar[int] = 804


class UnsupportedImage(FilesError):
    """The image cannot be read or cleaned; send it as a plain file with metadata kept."""

    code: ClassVar[int] = 805


class FileProtocolError(ProtocolError):
    """A description or a chunk from the network breaks the file protocol."""

    code: ClassVar[int] = 810


class MalformedDescription(FileProtocolError):
    """A file description does not decode (bad field, length over its cap, trailing bytes)."""

    code: ClassVar[int] = 811


class ChunkTampered(FileProtocolError):
    """A downloaded chunk does not match its digest; it was not written anywhere."""

    code: ClassVar[int] = 812


class StreamAuthenticationFailed(FileProtocolError):
    """A segment failed authentication: the file was reordered, truncated, extended or forged."""

    code: ClassVar[int] = 813


class MalformedFileCommand(FileProtocolError):
    """A file command or answer does not decode; a relay answers ``ERR SYNTAX``."""

    code: ClassVar[int] = 814


class FileStoreError(VeilError):
    """The relay's chunk store could not do what was asked (local to the relay)."""

    code: ClassVar[int] = 850


class StoreQuotaExceeded(FileStoreError):
    """The chunk store is at its quota; retry after chunks expire or are deleted."""

    code: ClassVar[int] = 851


class DiskFull(FileStoreError):
    """The disk under the chunk store is full; nothing was acknowledged."""

    code: ClassVar[int] = 852


class ChunkNotFound(FileStoreError):
    """No chunk is stored under that id (never was, expired, deleted or acknowledged)."""

    code: ClassVar[int] = 853


class UploadMismatch(FileStoreError):
    """An uploaded body differs from its registration (size or digest); it was discarded."""

    code: ClassVar[int] = 854


class ChunkCorrupted(FileStoreError):
    """A stored body no longer matches its digest (disk fault); it was removed."""

    code: ClassVar[int] = 855
