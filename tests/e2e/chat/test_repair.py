"""A restored backup desynchronises a connection; both users consent and repair it."""

from __future__ import annotations

import shutil

from conftest import VeilUser, connect
from veil.relay.launcher import RelayProcess


async def test_restored_backup_is_detected_and_repaired_over_the_same_queues(
    relay: RelayProcess, users: dict[str, VeilUser]
) -> None:
    alice, bob = users["Alice"], users["Bob"]
    await alice.init(relay)
    await bob.init(relay)
    await connect(alice, bob)
    backup = bob.home.with_name("bob-backup")
    shutil.copytree(bob.home, backup)
    # Two round trips: each turn of the conversation is a DH ratchet step.
    for turn in range(2):
        await bob.run("send", "Alice", f"bob {turn}")
        await alice.receive()
        await alice.run("send", "Bob", f"alice {turn}")
        await bob.receive()
    shutil.rmtree(bob.home)
    shutil.copytree(backup, bob.home)  # Bob restores yesterday's backup

    await alice.run("send", "Bob", "do you still read me?")
    events = await bob.receive()
    assert [(e["kind"], e["contact"]) for e in events] == [("desync", "Alice")]
    assert (await bob.run("contacts"))["contacts"][0]["status"] == "desynchronised"

    assert (await bob.run("repair", "Alice"))["repaired"] is False  # Bob offers
    assert [e["kind"] for e in await alice.receive()] == ["repair-request"]
    assert (await alice.run("repair", "Bob"))["repaired"] is True  # Alice consents
    assert [e["kind"] for e in await bob.receive()] == ["repaired"]

    await bob.run("send", "Alice", "back in sync")
    assert [e["text"] for e in await alice.receive()] == ["back in sync"]
    await alice.run("send", "Bob", "welcome back")
    assert [e["text"] for e in await bob.receive()] == ["welcome back"]
    assert (await alice.run("verify", "Bob"))["code"] == (await bob.run("verify", "Alice"))["code"]
    assert (await bob.run("contacts"))["contacts"][0]["status"] == "connected"
