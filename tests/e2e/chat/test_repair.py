"""A restored backup desynchronises a connection; both users consent and repair it."""

from __future__ import annotations

import asyncio
import shutil

from helpers.relay_process import RelayProcess
from helpers.veil_cli import COMMAND_TIMEOUT, VeilUser, connect
from helpers.veil_cli import receive_until as _receive


async def _status(user: VeilUser) -> str:
    status: str = (await user.run("contacts"))["contacts"][0]["status"]
    return status


async def _connect(alice: VeilUser, bob: VeilUser) -> None:
    """``connect`` gives each side one short receive; a slow machine may need more."""
    await connect(alice, bob)
    async with asyncio.timeout(COMMAND_TIMEOUT):
        while {await _status(alice), await _status(bob)} != {"connected"}:
            await alice.receive()
            await bob.receive()


async def test_restored_backup_is_detected_and_repaired_over_the_same_queues(
    relay: RelayProcess, users: dict[str, VeilUser]
) -> None:
    alice, bob = users["Alice"], users["Bob"]
    await alice.init(relay)
    await bob.init(relay)
    await _connect(alice, bob)
    backup = bob.home.with_name("bob-backup")
    shutil.copytree(bob.home, backup)
    # Two round trips: each turn of the conversation is a DH ratchet step.
    for turn in range(2):
        await bob.run("send", "Alice", f"bob {turn}")
        assert [e["text"] for e in await _receive(alice, 1)] == [f"bob {turn}"]
        await alice.run("send", "Bob", f"alice {turn}")
        assert [e["text"] for e in await _receive(bob, 1)] == [f"alice {turn}"]
    shutil.rmtree(bob.home)
    shutil.copytree(backup, bob.home)  # Bob restores yesterday's backup

    # One undecryptable message proves nothing (a relay can make one); three in a
    # row mark the contact.
    await alice.run("send", "Bob", "do you still read me?", "hello?", "Bob?")
    events = await _receive(bob, 1)
    assert [(e["kind"], e["contact"]) for e in events] == [("desync", "Alice")]
    assert await _status(bob) == "desynchronised"

    assert (await bob.run("repair", "Alice"))["repaired"] is False  # Bob offers
    assert [e["kind"] for e in await _receive(alice, 1)] == ["repair-request"]
    assert (await alice.run("repair", "Bob"))["repaired"] is True  # Alice consents
    assert [e["kind"] for e in await _receive(bob, 1)] == ["repaired"]

    await bob.run("send", "Alice", "back in sync")
    assert [e["text"] for e in await _receive(alice, 1)] == ["back in sync"]
    await alice.run("send", "Bob", "welcome back")
    assert [e["text"] for e in await _receive(bob, 1)] == ["welcome back"]
    assert (await alice.run("verify", "Bob"))["code"] == (await bob.run("verify", "Alice"))["code"]
    assert await _status(bob) == "connected"
