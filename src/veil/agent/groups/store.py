"""What the group engine needs from a store, declared here and implemented above it
(the chat store), in the same way as :mod:`veil.agent.store`.

One row per group: its id and the member state (:mod:`veil.agent.groups.codec`),
which holds the MLS state and the log cursor together, so a processed entry and
the cursor past it are committed in one transaction with the caller's own rows.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, TypeVar

__all__ = ["GroupRows", "GroupStore", "GroupTransaction"]


class GroupRows(Protocol):
    """The groups this client is in, by group id."""

    def load(self, group_id: bytes) -> bytes | None:
        """The member state of the group, or ``None``."""

    def save(self, group_id: bytes, state: bytes, now: float) -> None:
        """Insert or replace the member state of the group."""

    def ids(self) -> list[bytes]:
        """Every group id, oldest first."""


class GroupTransaction(Protocol):
    """The group rows inside one open transaction of the caller's store."""

    @property
    def groups(self) -> GroupRows:
        """The groups' member states."""


Tx_co = TypeVar("Tx_co", bound=GroupTransaction, covariant=True)


class GroupStore(Protocol[Tx_co]):
    """A store that opens transactions over the group rows (and the caller's own)."""

    def transaction(self) -> AbstractContextManager[Tx_co]:
        """Open a transaction: everything written in it commits together or not at all."""
