"""Contact addresses: strangers ask, the owner accepts one and rejects one, then deletes it."""

from __future__ import annotations

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser


async def test_two_requests_one_accepted_one_rejected_then_address_deleted(
    relay: RelayProcess, users: dict[str, VeilUser]
) -> None:
    alice, carol, dave = users["Alice"], users["Carol"], users["Dave"]
    for user in (alice, carol, dave):
        await user.init(relay)
    link = (await alice.run("address", "create"))["link"]
    assert link.startswith("veil://contact#")
    assert (await alice.run("address", "show"))["link"] == link

    await carol.run("connect", link)
    await dave.run("connect", link)
    arrived = await alice.receive()
    assert sorted(e["text"] for e in arrived if e["kind"] == "request") == ["Carol", "Dave"]
    pending = {r["name"]: r["id"] for r in (await alice.run("requests"))["requests"]}
    await alice.run("accept", str(pending["Carol"]))
    await alice.run("reject", str(pending["Dave"]))
    assert (await alice.run("requests"))["requests"] == []

    await carol.receive()  # Alice's confirmation: Carol is connected and says hello
    await alice.receive()  # Carol's hello: Alice is connected
    statuses = {c["alias"]: c["status"] for c in (await alice.run("contacts"))["contacts"]}
    assert statuses == {"Carol": "connected"}
    assert [c["status"] for c in (await dave.run("contacts"))["contacts"]] == ["connecting"]

    await alice.run("address", "delete")
    assert (await alice.run("address", "show"))["link"] is None
    await carol.run("send", "Alice", "still here after the address is gone")
    (message,) = await alice.receive()
    assert (message["contact"], message["text"]) == (
        "Carol",
        "still here after the address is gone",
    )
    await alice.run("send", "Carol", "and so am I")
    assert [e["text"] for e in await carol.receive()] == ["and so am I"]
    # A stranger holding the old address can no longer reach Alice.
    failed = await dave.run("connect", link)
    assert failed["contact"]["status"] == "connecting"
    assert not [e for e in await alice.receive() if e["kind"] == "request"]
