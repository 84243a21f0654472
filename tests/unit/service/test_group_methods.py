"""The ``group.*`` methods in-process (``LocalApi``) over real stores, the in-memory
relay and the in-memory group log: every method answers in its shape, group
happenings are logged as events in log order, and ``veil chat GROUP`` runs over
the same calls."""

from __future__ import annotations

import io
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from helpers.fake_relay import FakeRelay
from helpers.group_log import MemoryGroupLog
from veil.agent.groups.engine import GroupEngine
from veil.chat.app import Messenger
from veil.chat.group_errors import GroupMessageNotFound, NotYourMessage
from veil.chat.group_host import GroupHost
from veil.chat.store import KdfParams
from veil.cli.group_chat_loop import run_group_chat
from veil.crypto import SystemRandom
from veil.service.catalog import METHODS
from veil.service.methods import LocalApi, events_after
from veil.service.schema import check_params

RELAY = "veil://" + "A" * 43 + "@relay.example"
FAST = KdfParams(iterations=1, lanes=1, memory_kib=64)
RNG = SystemRandom()


class Checked(LocalApi):
    """The in-process API, checking every result against the method's shape."""

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        result = await super().call(method, params)
        check_params(result, METHODS[method].result)
        return result


def _user(home: Path, name: str, relay: FakeRelay, log: MemoryGroupLog) -> Checked:
    store = Messenger.create(home / name, "pw", name, [RELAY], kdf=FAST)
    messenger = Messenger(store, relays=relay, pq=False)
    engine = GroupEngine(store, log, rng=RNG, clock=messenger.now)
    messenger.groups = GroupHost(messenger, engine)
    return Checked(messenger)


async def _sync(*users: Checked, rounds: int = 3) -> None:
    for _ in range(rounds):
        for user in users:
            await user.call("group.sync", {"idle": 0.05})


async def _join(owner: Checked, joiner: Checked, alias: str = "club") -> None:
    link = (await owner.call("group.invite", {"group": "club"}))["link"]
    joined = await joiner.call("group.join", {"link": link, "alias": alias})
    assert (joined["group"], joined["status"]) == (alias, "requested")
    await owner.messenger.receive(idle=0.05, on_incoming=lambda _: None)
    (request,) = (await owner.call("requests"))["requests"]
    await owner.call("accept", {"request_id": request["id"]})
    for _ in range(4):
        await _sync(joiner, owner, rounds=1)
    assert alias in (await joiner.call("group.list"))["groups"]


def _group_events(user: Checked) -> list[tuple[str, str, str, int | None]]:
    events, _ = events_after(user.messenger, 0, 500)
    return [
        (e["kind"], e.get("sender", ""), e["text"], e["id"])
        for e in events
        if e.get("group") is not None
    ]


@pytest.fixture
async def club(tmp_path: Path) -> AsyncIterator[list[Checked]]:
    """Ann's group "club" with Bob and Cy in it."""
    relay, log = FakeRelay(), MemoryGroupLog(RNG)
    ann, bob, cy = (_user(tmp_path, n, relay, log) for n in ("Ann", "Bob", "Cy"))
    created = await ann.call("group.create", {"name": "Book club", "alias": "club"})
    assert created["group"] == "club" and len(created["id"]) == 32
    await _join(ann, bob)
    await _join(ann, cy)
    await _sync(ann, bob, cy)
    yield [ann, bob, cy]
    for user in (ann, bob, cy):
        await user.messenger.close()


async def test_every_group_method_answers_in_its_shape(club: list[Checked]) -> None:
    ann, bob, cy = club
    sent = await bob.call("group.send", {"group": "club", "texts": ["hello", "second"]})
    assert len(sent["sent"]) == 2
    await _sync(ann, bob, cy)
    first, second = (await cy.call("group.history", {"group": "club"}))["messages"]
    assert (first["name"], first["text"], second["text"]) == ("Bob", "hello", "second")
    await cy.call("group.send", {"group": "club", "texts": ["re"], "reply_to": first["seq"]})
    await bob.call("group.edit", {"group": "club", "seq": first["seq"], "text": "hello!"})
    await ann.call("group.react", {"group": "club", "seq": first["seq"], "emoji": "👍"})
    await bob.call("group.delete", {"group": "club", "seq": second["seq"]})
    with pytest.raises(NotYourMessage):
        await cy.call("group.edit", {"group": "club", "seq": first["seq"], "text": "mine"})
    with pytest.raises(GroupMessageNotFound):
        await cy.call("group.react", {"group": "club", "seq": 99999, "emoji": "x"})
    await _sync(ann, bob, cy)
    histories = [(await u.call("group.history", {"group": "club"}))["messages"] for u in club]
    assert len({str([(m["seq"], m["text"], m["deleted"]) for m in h]) for h in histories}) == 1
    edited, deleted, reply = histories[0]
    assert (edited["text"], edited["edited"], [e for _, e in edited["reactions"]]) == (
        "hello!",
        True,
        ["👍"],
    )
    assert deleted["deleted"] and reply["reply_to"] == first["id"]

    await ann.call("group.role", {"group": "club", "member": "Bob", "role": "admin"})
    await _sync(ann, bob, cy)
    await bob.call("group.remove", {"group": "club", "member": "Cy"})
    await _sync(ann, bob, cy)
    assert (await cy.call("group.info", {"group": "club"}))["status"] == "removed"
    roles = {
        m["name"]: m["role"]
        for m in (await ann.call("group.members", {"group": "club"}))["members"]
    }
    assert roles == {"Ann": "owner", "Bob": "admin"}
    left = await bob.call("group.leave", {"group": "club"})
    assert left == {"group": "club", "left": True}
    await _sync(ann, bob)
    info = await ann.call("group.info", {"group": "club"})
    assert (info["name"], info["members"], info["role"]) == ("Book club", 1, "owner")
    assert (await bob.call("group.info", {"group": "club"}))["status"] == "left"

    assert _group_events(ann) == [
        ("member-joined", "Bob", "", None),
        ("member-joined", "Cy", "", None),
        ("message", "Bob", "hello", first["seq"]),
        ("message", "Bob", "second", second["seq"]),
        ("message", "Cy", "re", reply["seq"]),
        ("edit", "Bob", "hello!", first["seq"]),
        ("delete", "Bob", "", second["seq"]),
        ("role-changed", "Bob", "admin", None),
        ("member-removed", "Cy", "Bob", None),
        ("member-left", "Bob", "", None),
    ]
    assert _group_events(cy)[-1][0] == "group-removed"  # "by" is unknown once revoked
    assert _group_events(bob)[0] == ("group-joined", "", "", None)


async def test_the_live_group_chat_runs_over_the_session(
    club: list[Checked], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ann, bob, cy = club
    await bob.call("group.send", {"group": "club", "texts": ["before the chat"]})
    await _sync(bob)
    monkeypatch.setattr(sys, "stdin", io.StringIO("typed live\n/quit\n"))
    await run_group_chat(ann, "club", as_json=False)
    await _sync(ann, bob, cy)
    texts = [m["text"] for m in (await cy.call("group.history", {"group": "club"}))["messages"]]
    assert texts == ["before the chat", "typed live"]
    out = capsys.readouterr().out
    assert "Bob: before the chat" in out and "Chatting in club" in out
