"""Errors of the agent's group engine (codes 580-599, part of the agent's hierarchy).

Remote errors (:class:`GroupProtocolError`) reject one log entry: the entry is
skipped, the cursor moves past it, and the group carries on. Local errors are the
caller's or the store's: the operation is refused and nothing changes.
"""

from __future__ import annotations

from typing import ClassVar

from veil.agent.errors import AgentLocalError, AgentProtocolError

__all__ = [
    "AccessRevoked",
    "GroupPolicyViolation",
    "GroupProtocolError",
    "GroupStateCorrupt",
    "MalformedGroupData",
    "NotAMember",
    "NotAllowed",
    "PastRetention",
    "StaleGroupEntry",
    "UnknownGroup",
]


class GroupProtocolError(AgentProtocolError):
    """A log entry or a join message breaks the group protocol; that entry is skipped."""

    code: ClassVar[int] = 580


class MalformedGroupData(GroupProtocolError):
    """A log entry, join request, welcome bundle or policy extension does not decode,
    or its MLS content fails a check (signature, tag, membership)."""

    code: ClassVar[int] = 581


class StaleGroupEntry(GroupProtocolError):
    """An entry for an epoch the group has left (a losing commit, a replay, or a message
    sent before a commit that ended its epoch); it is skipped."""

    code: ClassVar[int] = 582


class GroupPolicyViolation(GroupProtocolError):
    """A commit or post the group's policy forbids (a member removing others or changing
    roles, an observer posting); every member skips it."""

    code: ClassVar[int] = 583


class UnknownGroup(AgentLocalError):
    """The caller named a group this client is not in: check the group's name."""

    code: ClassVar[int] = 590


class NotAllowed(AgentLocalError):
    """Our own role does not allow the operation: ask an admin or the owner."""

    code: ClassVar[int] = 591


class NotAMember(AgentLocalError):
    """We were removed from the group or left it: ask an admin for a new invitation."""

    code: ClassVar[int] = 592


class GroupStateCorrupt(AgentLocalError):
    """Persisted group state does not decode: the local store is damaged."""

    code: ClassVar[int] = 593


class PastRetention(AgentLocalError):
    """We were offline longer than the log keeps entries: rejoin (public groups do it
    by an external commit) or ask an admin to add us again."""

    code: ClassVar[int] = 594


class AccessRevoked(AgentLocalError):
    """The relay no longer knows our reader or writer: an admin removed us (or our
    leaving was committed). A :class:`~veil.agent.groups.log_port.GroupLog` raises it."""

    code: ClassVar[int] = 595
