"""Five members of one group, driven only through the ``veil`` CLI against a real relay
process: create, invite by link, join and chat; an edit; role changes; a removal (the
removed member's client says so and receives nothing more); the relay killed with
SIGKILL mid-conversation and restarted on the same data (what it acknowledged
survives); one member offline across 100 messages and several commits, who then
catches up; an ownership transfer and the old owner leaving. At the end every member's
``veil history GROUP --json`` holds the same messages in the same order, and the
relay's files and logs hold no group name, member name or message text.

Members' commands run concurrently where they would on separate devices (each is its
own process and home), so a round of syncs costs one sync, not five.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser, receive_until

GROUP_NAME = "Quillfeather Reading Circle 8842"
MARKER = "zebra-quartz-7431 nobody may store this in clear"
SETTLE_ROUNDS = 12
"""Sync rounds before a condition is given up on (a busy machine needs a few)."""

Message = tuple[int, str, str, bool]
"""``(seq, sender handle, text, edited)`` of one history row."""


async def _each(users: list[VeilUser], *args: str) -> list[dict[str, Any]]:
    """Run the same command for every user at once."""
    return list(await asyncio.gather(*(user.run(*args) for user in users)))


async def _history(user: VeilUser) -> list[Message]:
    rows = (await user.run("history", "club"))["messages"]
    return [(m["seq"], m["sender"], m["text"], m["edited"]) for m in rows]


async def _settle(
    users: list[VeilUser], done: Callable[[], Awaitable[bool]], *, sync: bool = True
) -> None:
    """Sync everyone (concurrently) until ``done`` says the group is where it should be;
    ``sync=False`` when ``done`` reads everyone's history (``veil history`` syncs)."""
    for _ in range(SETTLE_ROUNDS):
        if await done():
            return
        if sync:
            await _each(users, "group", "sync", "--idle", "0.3")
    raise AssertionError("the group did not settle")


async def _agree(users: list[VeilUser], count: int, edited: int = 1) -> list[Message]:
    """Sync until every user's history holds ``count`` messages (``edited`` of them
    edited), the same for all."""
    agreed: list[Message] = []

    async def same() -> bool:
        nonlocal agreed
        histories = await asyncio.gather(*(_history(user) for user in users))
        agreed = histories[0]
        shaped = len(agreed) == count and sum(m[3] for m in agreed) == edited
        return shaped and all(h == agreed for h in histories)

    await _settle(users, same, sync=False)
    return agreed


async def _roles(user: VeilUser) -> dict[str, str]:
    members = (await user.run("group", "members", "club"))["members"]
    return {m["name"]: m["role"] for m in members}


async def _join_all(owner: VeilUser, joiners: list[VeilUser]) -> None:
    """Every joiner asks by its own link; the owner accepts them all; one settle."""
    links = [(await owner.run("group", "invite", "club"))["link"] for _ in joiners]
    await asyncio.gather(
        *(
            j.run("group", "join", link, "--alias", "club")
            for j, link in zip(joiners, links, strict=True)
        )
    )
    events = await receive_until(owner, len(joiners))
    requests = sorted(e["request"] for e in events if e["kind"] == "request")
    assert len(requests) == len(joiners)
    for request in requests:
        await owner.run("accept", str(request))

    async def joined() -> bool:
        lists = await _each(joiners, "group", "list")
        return all("club" in listed["groups"] for listed in lists)

    await _settle([owner, *joiners], joined)


async def _status(user: VeilUser) -> str:
    status: str = (await user.run("group", "info", "club"))["status"]
    return status


async def test_five_members_through_the_cli(
    relay: RelayProcess, users: dict[str, VeilUser]
) -> None:
    alice, bob, carol, dave, mallory = (users[n] for n in users)
    everyone = [alice, bob, carol, dave, mallory]
    await asyncio.gather(*(user.init(relay) for user in everyone))
    await alice.run("group", "create", GROUP_NAME, "--alias", "club")
    await _join_all(alice, everyone[1:])
    await asyncio.gather(bob.run("send", "club", "hello from Bob"), carol.run("send", "club", "hi"))
    first = await _agree(everyone, 2, edited=0)
    assert await _roles(dave) == {n: "owner" if n == "Alice" else "member" for n in users}

    # Dave is offline from here until the 100 messages and the commits are in.
    left_at = (await dave.run("group", "info", "club"))["epoch"]
    online = [alice, bob, carol, mallory]
    bobs = next(m for m in first if m[2] == "hello from Bob")
    await bob.run("edit", "club", str(bobs[0]), "hello from Bob!")
    await alice.run("group", "role", "club", "Bob", "admin")
    before_removal = await _agree(online, 2)

    async def bob_is_admin() -> bool:
        return (await _roles(bob))["Bob"] == "admin"

    await _settle(online, bob_is_admin)
    await bob.run("group", "remove", "club", "Mallory")

    async def mallory_out() -> bool:
        return await _status(mallory) == "removed"

    await _settle(online, mallory_out)
    refused = await mallory.run("send", "club", "let me back in", ok=False)
    assert "no longer in this group" in refused["error"]
    online = [alice, bob, carol]
    await asyncio.gather(
        *(u.run("send", "club", *(f"{u.name} {n}" for n in range(25))) for u in online)
    )
    await _agree(online, 77)

    # Carol's 25 are stored by the relay (she reads them back), read by nobody else,
    # and the relay is killed before anyone else syncs.
    late = [f"Carol late {n}" for n in range(25)]
    await carol.run("send", "club", *late)

    async def carol_posted() -> bool:
        return [m[2] for m in (await _history(carol))[-25:]] == late

    await _settle([carol], carol_posted, sync=False)
    await relay.kill()
    await relay.start()
    await alice.run("group", "role", "club", "Bob", "owner")

    async def bob_is_owner() -> bool:
        roles = await asyncio.gather(*(_roles(user) for user in online))
        return all(r == {**roles[0], "Alice": "admin", "Bob": "owner"} for r in roles)

    await _settle(online, bob_is_owner)
    await _agree(online, 102)

    # Dave catches up on everything at once.
    caught_up = await _agree([dave, bob], 102)
    assert [m[2] for m in caught_up[-25:]] == late
    assert (await dave.run("group", "info", "club"))["epoch"] >= left_at + 3
    assert await _roles(dave) == {
        "Alice": "admin",
        "Bob": "owner",
        "Carol": "member",
        "Dave": "member",
    }

    await alice.run("group", "leave", "club")

    async def alice_out() -> bool:
        infos = await _each([bob, carol, dave], "group", "info", "club")
        return await _status(alice) == "left" and all(i["members"] == 3 for i in infos)

    await _settle([alice, bob, carol, dave], alice_out)
    remaining = [bob, carol, dave]
    last = ["Bob runs the club now", MARKER, "back from the hills"]
    await asyncio.gather(
        *(user.run("send", "club", text) for user, text in zip(remaining, last, strict=True))
    )
    final = await _agree(remaining, 105)
    assert sorted(m[2] for m in final[-3:]) == sorted(last)
    assert final[:102] == caught_up
    assert await _history(alice) == caught_up
    assert await _history(mallory) == before_removal  # nothing after the removal
    info = await bob.run("group", "info", "club")
    assert (info["role"], info["members"], info["name"]) == ("owner", 3, GROUP_NAME)

    await relay.stop()  # flush the relay's store and logs before reading them
    # Names of five letters or more: a shorter one turns up by chance in megabytes of
    # ciphertext (a 3-byte name once in 16 MiB).
    needles = [GROUP_NAME, MARKER, late[7], *(name for name in users if len(name) >= 5)]
    files = [path for path in relay.data_dir.rglob("*") if path.is_file()] + [relay.log_file]
    found = [
        (str(path), needle)
        for path in files
        for needle in needles
        if needle.encode() in path.read_bytes()
    ]
    assert found == []
