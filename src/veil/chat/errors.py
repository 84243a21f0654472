"""Every error of the chat layer (codes 6xx), in one hierarchy.

:class:`ChatError` is the base. Under it:

* :class:`ChatLocalError` (also a :class:`~veil.errors.LocalError`): the user or
  the local machine — an unknown contact, a contact not connected yet, a store that
  cannot be opened or does not hold what was asked for (:class:`StoreError`).
* :class:`ChatProtocolError` (also a :class:`~veil.errors.ProtocolError`): a peer
  sent chat content that does not decode; that message is dropped, never the client.

The code table is in ``docs/protocol/chat.md`` (section "Errors"); a test checks
that the two agree.
"""

from __future__ import annotations

from typing import ClassVar

from veil.errors import LocalError, ProtocolError, VeilError

__all__ = [
    "BackupUnreadable",
    "ChatError",
    "ChatLocalError",
    "ChatProtocolError",
    "ContactNotConnected",
    "CorruptStoreHeader",
    "DuplicateRecord",
    "FilesNotSupported",
    "IncompleteSecurityCode",
    "MalformedEvent",
    "ProfileBusy",
    "RecordNotFound",
    "RestoreTargetInUse",
    "StoreError",
    "StoreExists",
    "StoreNotFound",
    "StoreTooNew",
    "UnsupportedEventVersion",
    "WrongPassphrase",
]


class ChatError(VeilError):
    """Base class of every chat-layer error."""

    code: ClassVar[int] = 600


class ChatLocalError(ChatError, LocalError):
    """The user or the local machine failed; no peer did anything wrong."""

    code: ClassVar[int] = 601


class ContactNotConnected(ChatLocalError):
    """The contact has no connection to send over yet (or any more)."""

    code: ClassVar[int] = 602


class ChatProtocolError(ChatError, ProtocolError):
    """A peer sent chat content that breaks the chat protocol."""

    code: ClassVar[int] = 610


class MalformedEvent(ChatProtocolError):
    """A chat event is truncated, over a cap, has an unknown tag or trailing bytes."""

    code: ClassVar[int] = 611


class UnsupportedEventVersion(ChatProtocolError):
    """A chat event uses an encoding version this client does not speak."""

    code: ClassVar[int] = 612


class StoreError(ChatLocalError):
    """The client store failed."""

    code: ClassVar[int] = 620


class WrongPassphrase(StoreError):
    """The passphrase does not unlock the store (or the database file is corrupted)."""

    code: ClassVar[int] = 621


class StoreNotFound(StoreError):
    """No store exists at the given path."""

    code: ClassVar[int] = 622


class StoreExists(StoreError):
    """A store already exists where a new one was to be created."""

    code: ClassVar[int] = 623


class CorruptStoreHeader(StoreError):
    """The plaintext key-derivation header next to the database does not parse."""

    code: ClassVar[int] = 624


class StoreTooNew(StoreError):
    """The store was written by a newer Veil: its schema or header version is unknown."""

    code: ClassVar[int] = 625


class RecordNotFound(StoreError):
    """A lookup by id or name found no row."""

    code: ClassVar[int] = 626


class DuplicateRecord(StoreError):
    """A row with the same unique key (alias, message id, queue id...) already exists."""

    code: ClassVar[int] = 627


class IncompleteSecurityCode(ChatLocalError):
    """A typed security code has the wrong number of digits (a slip, not an attack)."""

    code: ClassVar[int] = 628


class BackupUnreadable(ChatLocalError):
    """A backup file is not a Veil backup, is damaged, or the passphrase is wrong."""

    code: ClassVar[int] = 629


class RestoreTargetInUse(ChatLocalError):
    """``veil restore`` was pointed at a home that already holds something."""

    code: ClassVar[int] = 630


class ProfileBusy(ChatLocalError):
    """Another process on this machine is receiving for the same profile."""

    code: ClassVar[int] = 631


class FilesNotSupported(ChatLocalError):
    """The contact's Veil is too old to read file offers: it must update first."""

    code: ClassVar[int] = 632
