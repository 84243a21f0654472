"""Errors of the chat layer (codes 6xx): chat content, profiles and the client store.

Two families live here. :class:`ChatProtocolError` and its subclasses mean a peer
sent chat content that does not decode; the message is dropped and the peer told,
never the whole client. :class:`StoreError` and its subclasses are local: the
encrypted database could not be opened or does not hold what was asked for.
"""

from __future__ import annotations

from typing import ClassVar

from veil.errors import ProtocolError, VeilError

__all__ = [
    "ChatError",
    "ChatProtocolError",
    "CorruptStoreHeader",
    "DuplicateRecord",
    "MalformedEvent",
    "RecordNotFound",
    "StoreError",
    "StoreExists",
    "StoreNotFound",
    "StoreTooNew",
    "UnsupportedEventVersion",
    "WrongPassphrase",
]


class ChatError(VeilError):
    """Base class of local chat-layer failures."""

    code: ClassVar[int] = 600


class ChatProtocolError(ProtocolError):
    """A peer sent chat content that breaks the chat protocol."""

    code: ClassVar[int] = 610


class MalformedEvent(ChatProtocolError):
    """A chat event is truncated, over a cap, has an unknown tag or trailing bytes."""

    code: ClassVar[int] = 611


class UnsupportedEventVersion(ChatProtocolError):
    """A chat event uses an encoding version this client does not speak."""

    code: ClassVar[int] = 612


class StoreError(ChatError):
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
