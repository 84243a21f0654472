"""Delivery failures and relay state reach the event log with a real relay: a send
to a contact who removed us is refused by the relay (``delivery-failed`` naming the
message), and a relay that was down and came back is logged once each way."""

from __future__ import annotations

import pytest

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser

pytestmark = pytest.mark.slow


async def test_a_send_to_a_contact_who_removed_us_is_a_delivery_failure(
    pair: tuple[VeilUser, VeilUser],
) -> None:
    alice, bob = pair
    assert (await alice.run("remove", "Bob"))["queues_deleted"] == 1
    sent = await bob.run("send", "Alice", "are you there?")
    assert sent["pending"] == 1  # refused: it stays in the outbox
    arrived = await bob.receive()
    (failure,) = [e for e in arrived if e["kind"] == "delivery-failed"]
    assert (failure["contact"], failure["id"]) == ("Alice", sent["sent"][0])
    assert "relay" in failure["text"]
    assert not [e for e in arrived if e["kind"] == "relay-unreachable"]  # it answered


async def test_a_relay_down_then_back_is_logged_once_each_way(
    relay: RelayProcess, pair: tuple[VeilUser, VeilUser]
) -> None:
    alice, bob = pair
    await relay.stop()
    for text in ("one", "two"):
        assert (await alice.run("send", "Bob", text))["pending"] >= 1
    await relay.start()
    relays: list[tuple[str, str | None, str]] = []
    for _ in range(5):  # the outbox retries with backoff: the messages go out in time
        arrived = await alice.receive(2.0)
        relays += [(e["kind"], e["contact"], e["text"]) for e in arrived if e["kind"] != "receipt"]
        if relays[-1:] and relays[-1][0] == "relay-reachable":
            break
    assert relays == [
        ("relay-unreachable", "Bob", str(relay.address)),
        ("relay-reachable", "Bob", str(relay.address)),
    ]
    texts = [e["text"] for e in await bob.receive(2.0) if e["kind"] == "message"]
    assert texts == ["one", "two"]
