"""What happened in a group, as notices for people and as events in the event log.

:class:`GroupNotice` is one happening: a message, an edit, a delete, a reaction, a
member who joined, left, was removed or got a new role, or our own leaving. The
group chat makes them while it applies the log (:mod:`veil.chat.groups`), and
:func:`record_notices` logs them in that same transaction, so an API client sees
them in log order, resumes by sequence number, and never sees one whose change was
lost. Our own posts are not logged (as 1:1 chat logs only what arrives), so a bot
never answers itself. A group event names no contact: a client that knows only 1:1
chat must not take a group message for one from that contact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from veil.agent.groups.events import EntryRejected, EpochChanged, GroupEvent, RetentionLost, WeLeft
from veil.agent.groups.policy import GroupPolicy
from veil.chat.event_log import KEPT_EVENTS
from veil.chat.store import Transaction

__all__ = [
    "GroupNotice",
    "NameBook",
    "epoch_notices",
    "record_notices",
    "status_notices",
]


@dataclass(frozen=True, slots=True)
class GroupNotice:
    """Something that happened in the group ``group`` (its alias).

    ``kind`` is ``message``, ``edit``, ``delete``, ``reaction``, ``member-joined``,
    ``member-left``, ``member-removed``, ``role-changed``, ``group-joined``,
    ``group-left``, ``group-removed``, ``group-retention``, or ``error`` for an entry
    every member skipped. ``sender`` is the display name of the member it is about (who
    posted, edited, reacted, joined, left, was removed or got a new role); ``contact``
    our contact's alias when that member is one; ``message`` the group sequence
    number of the message it is about. ``text``: the message, the new text, the
    emoji (empty when withdrawn), the new role, or who removed the member."""

    kind: str
    group: str
    text: str
    sender: str = ""
    contact: str | None = None
    message: int | None = None
    own: bool = False


class NameBook:
    """Display names and contact aliases of a group's members, past and present, so
    a notice names a member who has since gone."""

    def __init__(self, contacts: dict[bytes, str], *policies: GroupPolicy) -> None:
        self._contacts = contacts
        self._names: dict[bytes, str] = {}
        for policy in policies:
            self.learn(policy)

    def learn(self, policy: GroupPolicy) -> None:
        """Remember every name on ``policy``'s roster."""
        for row in policy.roster:
            if row.display_name:
                self._names[row.handle] = row.display_name

    def name(self, handle: bytes) -> str:
        """The member's display name (its handle's first hex digits if it has none)."""
        return self._names.get(handle) or handle.hex()[:8]

    def contact(self, handle: bytes) -> str | None:
        """Our contact's alias, when the member is one."""
        return self._contacts.get(handle)

    def notice(
        self,
        kind: str,
        group: str,
        handle: bytes,
        text: str = "",
        *,
        message: int | None = None,
        own: bool = False,
    ) -> GroupNotice:
        """A notice about the member ``handle``."""
        name, contact = self.name(handle), self.contact(handle)
        return GroupNotice(kind, group, text, name, contact, message, own)


def epoch_notices(alias: str, event: EpochChanged, names: NameBook) -> list[GroupNotice]:
    """Who joined, left, was removed or changed role in a new epoch."""
    names.learn(event.previous)
    names.learn(event.policy)
    committer = "" if event.committer is None else names.name(event.committer)
    notices = [names.notice("member-joined", alias, handle) for handle in event.added]
    for handle in event.removed:
        if handle in event.left:
            notices.append(names.notice("member-left", alias, handle))
        else:
            notices.append(names.notice("member-removed", alias, handle, committer))
    before = {row.handle: row.role for row in event.previous.roster}
    for row in event.policy.roster:
        if row.handle in before and before[row.handle] is not row.role:
            notices.append(names.notice("role-changed", alias, row.handle, row.role.name.lower()))
    return notices


def status_notices(alias: str, event: GroupEvent, names: NameBook) -> list[GroupNotice]:
    """Our own standing changed (we left, were removed or fell past the log's
    retention), or an entry was skipped; nothing for the other events."""
    if isinstance(event, WeLeft):
        by = "" if event.by is None else names.name(event.by)
        return [GroupNotice("group-removed" if event.removed else "group-left", alias, by)]
    if isinstance(event, RetentionLost):
        how = "rejoin by link" if event.can_rejoin else "ask an admin to add you again"
        return [GroupNotice("group-retention", alias, f"offline past the log's retention: {how}")]
    if isinstance(event, EntryRejected):
        return [GroupNotice("error", alias, f"entry {event.seq}: {event.error}")]
    return []


def record_notices(tx: Transaction, notices: Iterable[GroupNotice], now: float) -> None:
    """Log every notice but our own posts in ``tx``, then drop the oldest events
    beyond :data:`~veil.chat.event_log.KEPT_EVENTS`."""
    recorded = False
    for notice in notices:
        if notice.own:
            continue
        tx.events.add(
            kind=notice.kind,
            contact=None,
            text=notice.text,
            row_id=notice.message,
            integrity="ok",
            request_id=None,
            at=now,
            group=notice.group,
            sender=notice.sender or None,
        )
        recorded = True
    if recorded:
        tx.events.prune(KEPT_EVENTS)
