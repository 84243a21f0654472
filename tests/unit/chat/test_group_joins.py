"""Joining a group by link over in-process Messengers: the link opens a pairwise
connection to the admin, the request and the welcome bundle travel over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.fake_relay import FakeRelay
from helpers.group_log import MemoryGroupLog
from veil.agent.groups.engine import GroupEngine
from veil.chat.app import Messenger
from veil.chat.conversation import Incoming
from veil.chat.group_errors import MalformedGroupLink
from veil.chat.group_joins import GroupJoins, decode_group_link, encode_group_link
from veil.chat.groups import GroupChat
from veil.chat.store import KdfParams
from veil.crypto import SystemRandom

RELAY = "veil://" + "A" * 43 + "@relay.example"
RNG = SystemRandom()


def _clock() -> float:
    return 1_800_000_000.0


class Member:
    """A Messenger with its group chat and joins."""

    def __init__(self, tmp_path: Path, name: str, relay: FakeRelay, log: MemoryGroupLog) -> None:
        store = Messenger.create(tmp_path / name, "pw", name, [RELAY], kdf=KdfParams(1, 1, 64))
        self.messenger = Messenger(store, relays=relay, pq=False)
        engine = GroupEngine(store, log, rng=RNG, clock=_clock)
        self.chat = GroupChat(store, engine, RNG, _clock)
        self.joins = GroupJoins(self.messenger, self.chat, RNG, _clock)

    async def receive(self) -> list[Incoming]:
        arrived: list[Incoming] = []
        await self.messenger.receive(idle=0.05, on_incoming=arrived.append)
        return arrived

    async def step(self) -> list[str]:
        """One round: receive, move joins along, sync every group, flush."""
        await self.receive()
        joined = await self.joins.process()
        for alias, _ in self.chat.aliases():
            await self.chat.sync(alias)
        await self.messenger.agent.outbox.flush(force=True)
        return joined


def test_group_links_round_trip_and_bad_ones_are_refused() -> None:
    ticket = bytes(range(16))
    assert decode_group_link(encode_group_link("veil://contact#abc", ticket)) == (
        "veil://contact#abc",
        ticket,
    )
    for bad in ("veil://contact#abc", "veil://group#!!", "veil://group#AQAB"):
        with pytest.raises(MalformedGroupLink):
            decode_group_link(bad)


async def test_joining_by_link_through_the_admins_contact_address(tmp_path: Path) -> None:
    relay, log = FakeRelay(), MemoryGroupLog(RNG)
    ann, bob = Member(tmp_path, "Ann", relay, log), Member(tmp_path, "Bob", relay, log)
    await ann.chat.create("club", "Book club", "Ann")
    link = await ann.joins.invite("club")
    await bob.joins.join(link, "books")
    (request,) = await ann.receive()
    await ann.messenger.accept(request.request_id or 0)
    joined: list[str] = []
    for _ in range(6):
        joined += await bob.step()
        await ann.step()
    assert joined == ["books"]
    await bob.chat.send("books", "hi all")
    await bob.chat.sync("books")
    await ann.chat.sync("club")
    assert [m.text for m in ann.chat.history("club")] == ["hi all"]
    assert {m.display_name for m in ann.chat.members("club")} == {"Ann", "Bob"}
    assert bob.chat.engine.member(bob.chat.group_id("books")).policy.name == "Book club"
    contacts = {m.display_name: m.contact for m in bob.chat.members("books")}
    assert contacts == {"Ann": "Ann", "Bob": None}  # the inviter is our contact Ann
    contacts = {m.display_name: m.contact for m in ann.chat.members("club")}
    assert contacts == {"Ann": None, "Bob": "Bob"}
