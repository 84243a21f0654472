"""Two people talk through a real relay, driven only through the ``veil`` CLI."""

from __future__ import annotations

from helpers.veil_cli import VeilUser

MESSAGES_EACH_WAY = 200
BATCH = 50


async def test_invite_connect_and_talk_with_every_message_kind(
    pair: tuple[VeilUser, VeilUser],
) -> None:
    alice, bob = pair
    assert (await alice.run("contacts"))["contacts"][0]["status"] == "connected"
    bob_contacts = (await bob.run("contacts"))["contacts"]
    assert [(c["alias"], c["status"]) for c in bob_contacts] == [("Alice", "connected")]

    await bob.run("send", "Alice", "hello Alice")
    (arrived,) = await alice.receive()
    assert (arrived["kind"], arrived["contact"], arrived["text"]) == (
        "message",
        "Bob",
        "hello Alice",
    )
    await alice.run("send", "Bob", "hi Bob", "--reply-to", str(arrived["id"]))
    reply_events = await bob.receive()
    own_id = (await bob.history("Alice"))[0]["id"]
    await bob.run("edit", "Alice", str(own_id), "hello Alice!")
    await bob.run("react", "Alice", str(reply_events[0]["id"]), "👍")
    await alice.receive()

    alice_view = await alice.history("Bob")
    assert [m["text"] for m in alice_view] == ["hello Alice!", "hi Bob"]
    assert alice_view[0]["edited"] and alice_view[1]["reactions"] == [["received", "👍"]]
    assert alice_view[1]["reply_to"] == alice_view[0]["id"]  # the row it answers
    bob_view = await bob.history("Alice")
    assert bob_view[0]["receipt"] == "delivered"  # Alice's client sent a receipt

    await bob.run("delete", "Alice", str(own_id), "--for-everyone")
    await alice.receive()
    await alice.run("rename", "Bob", "Bobby")
    assert (await alice.history("Bobby"))[0]["deleted"] == "for_everyone"


async def test_two_hundred_messages_each_way_while_the_peer_is_offline(
    pair: tuple[VeilUser, VeilUser],
) -> None:
    alice, bob = pair
    # Each side writes while the other runs no client at all. The relay holds at most
    # its quota per queue (128 by default); the rest waits in the sender's encrypted
    # outbox and leaves with the sender's next command once the peer has drained.
    for sender, peer_name in ((alice, "Bob"), (bob, "Alice")):
        for start in range(0, MESSAGES_EACH_WAY, BATCH):
            texts = [f"{sender.name} {n}" for n in range(start, start + BATCH)]
            await sender.run("send", peer_name, *texts)
    assert (await alice.run("send", "Bob", "last from Alice"))["pending"] > 0
    for _ in range(3):
        await alice.receive()
        await bob.receive()
    for user, peer in ((alice, bob), (bob, alice)):
        received = [m for m in await user.history(peer.name) if m["direction"] == "received"]
        expected = [f"{peer.name} {n}" for n in range(MESSAGES_EACH_WAY)]
        if peer is alice:
            expected.append("last from Alice")
        assert [m["text"] for m in received] == expected
        assert {m["integrity"] for m in received} == {"ok"}
        sequences = [m["sequence"] for m in received]
        assert sequences == sorted(set(sequences))
