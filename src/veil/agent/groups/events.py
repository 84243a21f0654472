"""What processing a group's log yields, for the layer above (frozen, slotted).

Every event names the log sequence number it came from, so every member sees the
same events in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.agent.groups.errors import GroupProtocolError
from veil.agent.groups.policy import GroupPolicy, Role

__all__ = [
    "EntryRejected",
    "EpochChanged",
    "GroupEvent",
    "JoinLost",
    "MemberAdmitted",
    "Posted",
    "RetentionLost",
    "WeLeft",
]


@dataclass(frozen=True, slots=True)
class Posted:
    """An application message, from ``sender`` (a per-group handle) holding ``role`` at
    that point of the log; ``own`` if ours."""

    seq: int
    sender: bytes
    data: bytes
    own: bool
    role: Role


@dataclass(frozen=True, slots=True)
class EpochChanged:
    """A commit won its epoch: who committed it, who joined and who went."""

    seq: int
    epoch: int
    committer: bytes | None
    """The committer's handle (``None`` for an external commit)."""
    added: tuple[bytes, ...]
    removed: tuple[bytes, ...]
    policy: GroupPolicy
    previous: GroupPolicy
    """The policy of the epoch before, to tell who changed role and name who went."""
    left: tuple[bytes, ...] = ()
    """Those of ``removed`` who left on their own (their Remove proposal for themselves)."""


@dataclass(frozen=True, slots=True)
class WeLeft:
    """We are out of the group: ``removed`` by an admin, or our leaving was committed."""

    seq: int
    removed: bool
    by: bytes | None


@dataclass(frozen=True, slots=True)
class MemberAdmitted:
    """Our commit adding a joiner won: send ``bundle`` to it over ``ticket``'s channel."""

    ticket: bytes
    bundle: bytes


@dataclass(frozen=True, slots=True)
class EntryRejected:
    """An entry every member skips (malformed, stale, replayed or against the policy)."""

    seq: int
    error: GroupProtocolError


@dataclass(frozen=True, slots=True)
class RetentionLost:
    """We were offline past the log's retention: rejoin, or an admin adds us again."""

    cursor: int
    can_rejoin: bool
    """Whether the group is public, so we may rejoin by an external commit."""


@dataclass(frozen=True, slots=True)
class JoinLost:
    """Another commit took the epoch our external commit was for: ask a member for a
    fresh GroupInfo and join again."""

    seq: int


GroupEvent = (
    Posted | EpochChanged | WeLeft | MemberAdmitted | EntryRejected | RetentionLost | JoinLost
)
