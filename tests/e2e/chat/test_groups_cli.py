"""Groups driven only through the ``veil`` CLI against a real relay process: create,
invite by link, join, chat, a role change, a removal, leaving after an ownership
transfer; every remaining member's history is the same."""

from __future__ import annotations

from typing import Any

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser

GROUP_NAME = "Quillfeather Reading Circle 8842"
MARKER = "zebra-quartz-7431 nobody may store this in clear"


async def _sync(users: list[VeilUser], rounds: int = 2) -> None:
    for _ in range(rounds):
        for user in users:
            await user.run("group", "sync", "--idle", "0.3")


async def _join(owner: VeilUser, joiner: VeilUser) -> None:
    link = (await owner.run("group", "invite", "club"))["link"]
    await joiner.run("group", "join", link, "--alias", "club")
    events = (await owner.run("receive", "--wait", "1"))["events"]
    (request,) = [e["request"] for e in events if e["kind"] == "request"]
    await owner.run("accept", str(request))
    for _ in range(3):
        await joiner.run("group", "sync", "--idle", "0.5")
        await owner.run("group", "sync", "--idle", "0.5")
    await joiner.run("group", "sync", "--idle", "0.5")
    assert "club" in (await joiner.run("group", "list"))["groups"]


def _texts(history: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["name"], m["text"]) for m in history["messages"]]


async def test_a_group_through_the_cli(relay: RelayProcess, users: dict[str, VeilUser]) -> None:
    alice, bob, carol, dave = (users[n] for n in ("Alice", "Bob", "Carol", "Dave"))
    for user in (alice, bob, carol, dave):
        await user.init(relay)
    await alice.run("group", "create", GROUP_NAME, "--alias", "club")
    for joiner in (bob, carol, dave):
        await _join(alice, joiner)
    everyone = [alice, bob, carol, dave]
    await _sync(everyone)
    await bob.run("send", "club", "hello from Bob")
    await carol.run("send", "club", "hi Bob")
    await _sync(everyone)
    roles = {m["name"]: m["role"] for m in (await dave.run("group", "members", "club"))["members"]}
    assert roles == {"Alice": "owner", "Bob": "member", "Carol": "member", "Dave": "member"}

    first = (await bob.run("history", "club"))["messages"][0]
    await bob.run("edit", "club", str(first["seq"]), "hello from Bob!")
    await alice.run("group", "role", "club", "Bob", "admin")
    await _sync(everyone)
    await bob.run("group", "remove", "club", "Dave")
    await _sync(everyone)
    dave_info = await dave.run("group", "info", "club")
    assert dave_info["status"] == "removed"
    await alice.run("group", "role", "club", "Bob", "owner")
    await _sync(everyone[:3])
    await alice.run("group", "leave", "club")
    # Leaving from a freshly loaded state first commits new keys, and a proposal that
    # lost its epoch is made again: it can take a few rounds until an admin commits it.
    for _ in range(8):
        await _sync(everyone[:3], rounds=1)
        if (await alice.run("group", "info", "club"))["status"] == "left":
            break
    assert (await alice.run("group", "info", "club"))["status"] == "left"
    await bob.run("send", "club", "Bob runs the club now")
    await carol.run("send", "club", MARKER)
    await _sync([bob, carol], rounds=4)  # each send first commits (restored state)
    histories = [_texts(await user.run("history", "club")) for user in (bob, carol)]
    assert histories[0] == histories[1]
    texts = [text for _, text in histories[0]]
    assert texts[:2] == ["hello from Bob!", "hi Bob"]
    # Both posted in the same epoch, each after a commit of its own: the log orders
    # them by whose commit won, the same for everyone.
    assert sorted(texts[2:]) == sorted(["Bob runs the club now", MARKER])
    assert "Bob runs the club now" not in [t for _, t in _texts(await dave.run("history", "club"))]
    info = await bob.run("group", "info", "club")
    assert (info["role"], info["members"], info["name"]) == ("owner", 2, GROUP_NAME)
    await relay.stop()  # flush the relay's store and logs before reading them
    needles = [GROUP_NAME.encode(), MARKER.encode()]
    found = [
        (str(path), needle)
        for path in relay.data_dir.rglob("*")
        if path.is_file()
        for needle in needles
        if needle in path.read_bytes()
    ]
    assert found == []
