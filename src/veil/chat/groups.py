"""Chat in groups: text, replies, edits, reactions, mentions and deletes over the
agent's group engine (docs/protocol/groups.md, "Chat in groups").

A group's application messages are the same chat events as 1:1 chat
(:mod:`veil.chat.events`), so one codec serves both. Every member applies them in
log order, in the same transaction as the engine state that decrypted them, so all
members' histories agree. Authors edit and delete their own messages; admins and
the owner delete any message for everyone (moderation). Receipts are not sent in
groups.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.events import (
    EpochChanged,
    GroupEvent,
    Posted,
)
from veil.agent.groups.policy import GroupPolicy, Role
from veil.chat.errors import ChatProtocolError, DuplicateRecord
from veil.chat.events import (
    ChatEvent,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    ReactionChanged,
    decode_event,
    encode_event,
    new_message_id,
)
from veil.chat.group_errors import GroupMessageNotFound, MemberNotFound, NotYourMessage
from veil.chat.group_notices import (
    GroupNotice,
    NameBook,
    epoch_notices,
    record_notices,
    status_notices,
)
from veil.chat.store import ChatStore, Transaction
from veil.chat.store.groups import GroupMessageRecord
from veil.crypto import RandomSource

__all__ = ["GroupChat", "GroupNotice", "MemberView", "mentions"]

_MENTION = re.compile(r"@([^\s@]+)")


@dataclass(frozen=True, slots=True)
class MemberView:
    """One member as the member list shows it."""

    handle: bytes
    display_name: str
    role: Role
    you: bool
    contact: str | None = None
    """Our contact's alias, when this member is a contact introduced over our pairwise
    connection (the client shows it as verified: the same person)."""


def mentions(text: str, policy: GroupPolicy) -> tuple[bytes, ...]:
    """The handles of the members ``text`` mentions as ``@DisplayName``."""
    names = set(_MENTION.findall(text))
    return tuple(row.handle for row in policy.roster if row.display_name in names)


class GroupChat:
    """One user's groups as conversations."""

    def __init__(
        self,
        store: ChatStore,
        engine: GroupEngine[Transaction],
        rng: RandomSource,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self.engine = engine
        self._rng = rng
        self._clock = clock
        self.on_events: Callable[[Transaction, list[GroupEvent]], None] | None = None
        """Called with every batch of events inside its transaction (group joins)."""

    # -- groups -------------------------------------------------------------------

    async def create(self, alias: str, name: str, display_name: str) -> bytes:
        """Create a group named ``name`` (``alias`` locally); return its id."""
        group_id = await self.engine.create(name, display_name)
        self.set_alias(group_id, alias)
        return group_id

    def set_alias(self, group_id: bytes, alias: str) -> None:
        """Name a group locally."""
        with self._store.transaction() as tx:
            tx.groups.set_alias(group_id, alias)

    def group_id(self, alias: str) -> bytes:
        """The id of the group with this alias."""
        with self._store.transaction() as tx:
            return tx.groups.find(alias)

    def aliases(self) -> list[tuple[str, bytes]]:
        """Every group's alias and id."""
        with self._store.transaction() as tx:
            return tx.groups.aliases()

    def members(self, alias: str) -> list[MemberView]:
        """The members with their roles, in the current epoch."""
        group_id = self.group_id(alias)
        member = self.engine.member(group_id)
        state, policy = member.mls, member.policy
        with self._store.transaction() as tx:
            contacts = tx.groups.member_contacts(group_id)
        handles = [state.tree.member_leaf(i).credential.identity for i in state.tree.members()]
        return [
            MemberView(
                h,
                policy.entry(h).display_name,
                policy.role_of(h),
                h == member.handle,
                contacts.get(h),
            )
            for h in handles
        ]

    def find_member(self, alias: str, who: str) -> bytes:
        """The handle of the member named ``who`` (display name or handle hex prefix)."""
        found = [
            m.handle
            for m in self.members(alias)
            if who in (m.display_name, m.handle.hex())
            or (len(who) >= 4 and m.handle.hex().startswith(who))
        ]
        if len(found) != 1:
            raise MemberNotFound(
                f"{len(found)} members of {alias} match {who!r}: `veil group members {alias}`"
            )
        return found[0]

    # -- talking --------------------------------------------------------------------

    async def send(self, alias: str, text: str, reply_to: bytes | None = None) -> bytes:
        """Post a message (a reply if ``reply_to``); return its message id."""
        message_id = new_message_id(self._rng)
        ms = int(self._clock() * 1000)
        await self._post(alias, MessagePosted(message_id, text, ms, reply_to))
        return message_id

    async def edit(self, alias: str, message_id: bytes, text: str) -> None:
        """Replace the text of one of our messages."""
        self._check_own(alias, message_id, moderation=False)
        await self._post(alias, MessageEdited(message_id, text))

    async def delete(self, alias: str, message_id: bytes) -> None:
        """Delete a message for everyone: ours, or anyone's if we are an admin."""
        self._check_own(alias, message_id, moderation=True)
        await self._post(alias, MessageDeleted(message_id))

    async def react(self, alias: str, message_id: bytes, emoji: str, added: bool = True) -> None:
        """Set or clear our reaction to a message."""
        await self._post(alias, ReactionChanged(message_id, emoji, added))

    async def _post(self, alias: str, event: ChatEvent) -> None:
        await self.engine.post(self.group_id(alias), encode_event(event))

    def _check_own(self, alias: str, message_id: bytes, *, moderation: bool) -> None:
        group_id = self.group_id(alias)
        member = self.engine.member(group_id)
        with self._store.transaction() as tx:
            message = tx.group_messages.find(group_id, message_id)
        if message is None:
            raise NotYourMessage(f"no message {message_id.hex()} in {alias}")
        if message.sender != member.handle and not (moderation and member.role >= Role.ADMIN):
            raise NotYourMessage("only the author edits a message; admins may delete it")

    def message_at(self, alias: str, seq: int) -> bytes:
        """The id of the message at ``seq`` (:class:`GroupMessageNotFound` if none)."""
        with self._store.transaction() as tx:
            message = tx.group_messages.at(tx.groups.find(alias), seq)
        if message is None:
            raise GroupMessageNotFound(f"{alias} has no message #{seq}: see `veil history {alias}`")
        return message.message_id

    def history(self, alias: str, limit: int | None = None) -> list[GroupMessageRecord]:
        """The group's messages in log order (the same for every member)."""
        with self._store.transaction() as tx:
            return tx.group_messages.history(tx.groups.find(alias), limit)

    # -- receiving --------------------------------------------------------------------

    async def sync(self, alias: str) -> list[GroupNotice]:
        """Catch up with the group's log; return what happened, in log order. Each
        batch's notices are logged as events in the transaction that applied it."""
        notices: list[GroupNotice] = []

        def apply(tx: Transaction, group_id: bytes, events: list[GroupEvent]) -> None:
            names = NameBook(
                tx.groups.member_contacts(group_id), self.engine.member(group_id).policy
            )
            batch = self._apply(tx, alias, group_id, events, names)
            record_notices(tx, batch, self._clock())
            notices.extend(batch)
            if self.on_events is not None:
                self.on_events(tx, events)

        await self.engine.sync(self.group_id(alias), apply)
        return notices

    def _apply(
        self,
        tx: Transaction,
        alias: str,
        group_id: bytes,
        events: list[GroupEvent],
        names: NameBook,
    ) -> list[GroupNotice]:
        notices: list[GroupNotice] = []
        for event in events:
            if isinstance(event, Posted):
                notice = _apply_post(tx, alias, group_id, event, names)
                notices += [notice] if notice is not None else []
            elif isinstance(event, EpochChanged):
                notices += epoch_notices(alias, event, names)
            else:
                notices += status_notices(alias, event, names)
        return notices


def _apply_post(
    tx: Transaction, alias: str, group_id: bytes, event: Posted, names: NameBook
) -> GroupNotice | None:
    """Apply one chat event from the log; one that breaks the rules changes nothing."""
    try:
        chat = decode_event(event.data)
    except ChatProtocolError as error:
        return GroupNotice("error", alias, f"entry {event.seq}: {error}")
    if isinstance(chat, MessagePosted):
        record = GroupMessageRecord(
            group_id,
            event.seq,
            chat.message_id,
            event.sender,
            event.own,
            chat.text,
            chat.sent_at_ms,
            chat.reply_to,
            False,
            None,
            (),
        )
        try:
            tx.group_messages.add(record)
        except DuplicateRecord:
            return None
        return names.notice(
            "message", alias, event.sender, chat.text, message=event.seq, own=event.own
        )
    return _apply_change(tx, alias, group_id, event, chat, names=names)


def _apply_change(
    tx: Transaction,
    alias: str,
    group_id: bytes,
    event: Posted,
    chat: ChatEvent,
    *,
    names: NameBook,
) -> GroupNotice | None:
    """An edit, delete or reaction: applied only to a live message, and edits and
    deletes only by the author (deletes also by an admin)."""
    target = getattr(chat, "target_id", None)
    original = None if target is None else tx.group_messages.find(group_id, target)
    if original is None or original.deleted_by is not None:
        return None
    seq, own = original.seq, event.own
    if isinstance(chat, MessageEdited) and original.sender == event.sender:
        tx.group_messages.edit(group_id, original.message_id, chat.text)
        return names.notice("edit", alias, event.sender, chat.text, message=seq, own=own)
    if isinstance(chat, MessageDeleted) and (
        original.sender == event.sender or event.role >= Role.ADMIN
    ):
        tx.group_messages.delete(group_id, original.message_id, event.sender)
        return names.notice("delete", alias, event.sender, message=seq, own=own)
    if isinstance(chat, ReactionChanged):
        emoji = chat.emoji if chat.added else ""
        tx.group_messages.react(group_id, original.message_id, event.sender, emoji)
        return names.notice("reaction", alias, event.sender, emoji, message=seq, own=own)
    return None
