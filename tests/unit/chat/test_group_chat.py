"""Chat in groups over real client stores and the in-memory group log: replies,
edits, reactions, mentions, deletes and moderation, the same history for all."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from helpers.group_log import MemoryGroupLog
from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.events import MemberAdmitted
from veil.agent.groups.policy import Role
from veil.chat.group_errors import MemberNotFound, NotYourMessage
from veil.chat.groups import GroupChat, mentions
from veil.chat.store import ChatStore, KdfParams
from veil.chat.store.groups import GroupMessageRecord
from veil.crypto import SystemRandom

RNG = SystemRandom()


def _clock() -> float:
    return 1_800_000_000.0


def _chat(tmp_path: Path, name: str, log: MemoryGroupLog) -> GroupChat:
    store = ChatStore.create(tmp_path / f"{name}.db", "pass", kdf=KdfParams(1, 1, 8))
    return GroupChat(store, GroupEngine(store, log, rng=RNG, clock=_clock), RNG, _clock)


async def _group(tmp_path: Path) -> list[GroupChat]:
    log = MemoryGroupLog(RNG)
    ann, bob, cy = (_chat(tmp_path, name, log) for name in ("ann", "bob", "cy"))
    group_id = await ann.create("club", "Book club", "Ann")
    secrets = {}
    for name, chat in (("Bob", bob), ("Cy", cy)):
        request, secrets[name.encode()] = chat.engine.request_join(name)
        await ann.engine.admit(group_id, request, name.encode(), flush=False)
    await ann.engine.flush(group_id)
    for _ in range(2):  # the commit comes back, then the Welcome posted after it
        for event in await ann.engine.sync(group_id):
            if isinstance(event, MemberAdmitted):
                joiner = bob if event.ticket == b"Bob" else cy
                joined = await joiner.engine.join(event.bundle, secrets[event.ticket])
                joiner.set_alias(joined, "club")
    return [ann, bob, cy]


async def _sync(chats: list[GroupChat]) -> None:
    for _ in range(3):
        for chat in chats:
            await chat.sync("club")


async def test_replies_edits_reactions_and_deletes_agree_everywhere(tmp_path: Path) -> None:
    ann, bob, cy = chats = await _group(tmp_path)
    first = await bob.send("club", "hi @Ann and @Cy")
    await _sync(chats)
    reply = await cy.send("club", "hello Bob", reply_to=first)
    await _sync(chats)
    await bob.edit("club", first, "hi all")
    await ann.react("club", reply, "👍")
    doomed = await cy.send("club", "oops")
    await _sync(chats)
    await cy.delete("club", doomed)
    await _sync(chats)
    histories = [chat.history("club") for chat in chats]
    assert len({tuple(map(_shared, h)) for h in histories}) == 1
    texts = [(m.text, m.edited, m.deleted_by is not None) for m in histories[0]]
    assert texts == [("hi all", True, False), ("hello Bob", False, False), ("", False, True)]
    assert histories[1][1].reply_to == first
    assert [emoji for _, emoji in histories[2][1].reactions] == ["👍"]
    assert [m.own for m in bob.history("club")] == [True, False, False]
    policy = ann.engine.member(ann.group_id("club")).policy
    names = {row.handle: row.display_name for row in policy.roster}
    assert sorted(names[h] for h in mentions("hi @Ann and @Cy", policy)) == ["Ann", "Cy"]


def _shared(message: GroupMessageRecord) -> GroupMessageRecord:
    """A history row without the ``own`` flag, which differs by reader."""
    return replace(message, own=False)


async def test_members_edit_only_their_own_and_admins_moderate(tmp_path: Path) -> None:
    ann, bob, cy = chats = await _group(tmp_path)
    message = await bob.send("club", "spam")
    await _sync(chats)
    with pytest.raises(NotYourMessage):
        await cy.edit("club", message, "not mine")
    with pytest.raises(NotYourMessage):
        await cy.delete("club", message)
    await ann.delete("club", message)
    await _sync(chats)
    assert all(chat.history("club")[0].deleted_by is not None for chat in chats)
    members = {m.display_name: m.role for m in cy.members("club")}
    assert members == {"Ann": Role.OWNER, "Bob": Role.MEMBER, "Cy": Role.MEMBER}
    with pytest.raises(MemberNotFound):
        ann.find_member("club", "Dan")
    assert ann.find_member("club", "Bob") == bob.engine.member(bob.group_id("club")).handle
