"""The API end to end: two ``veil serve`` processes, one relay, every method called
and its result checked against the checked-in schema; events in order; resuming."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from helpers.veil_cli import VeilUser
from helpers.veil_service import ServiceProcess
from veil.service.api_types import EventShape
from veil.service.catalog import METHODS
from veil.service.client import ServiceClient
from veil.service.errors import RemoteError

pytestmark = pytest.mark.slow

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "api" / "schema.json").read_text()
)
EVENT_WAIT = 60.0


class CheckedClient:
    """A client whose every result is validated against the method's result schema."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client
        self.called: set[str] = {"hello"}

    async def call(self, method: str, **params: Any) -> Any:
        result = await self.client.call(method, params)
        schema = {**SCHEMA["methods"][method]["result"], "definitions": SCHEMA["definitions"]}
        jsonschema.validate(result, schema)
        self.called.add(method)
        return result


async def next_events(
    stream: Any, count: int, kinds: tuple[str, ...] = ("message",)
) -> list[EventShape]:
    """The next ``count`` events of ``kinds`` (others are skipped), each validated."""
    found: list[EventShape] = []
    event_schema = {
        **SCHEMA["notifications"]["event"]["params"],
        "definitions": SCHEMA["definitions"],
    }
    while len(found) < count:
        event = await asyncio.wait_for(anext(stream), EVENT_WAIT)
        jsonschema.validate(event, event_schema)
        if event["kind"] in kinds:
            found.append(event)
    return found


async def test_every_method_answers_in_its_schema_and_events_arrive_in_order(
    services: tuple[ServiceProcess, ServiceProcess],
) -> None:
    alice_service, bob_service = services
    alice = CheckedClient(await ServiceClient.connect(alice_service.home))
    bob = CheckedClient(await ServiceClient.connect(bob_service.home))
    bob_events = bob.client.events(0)
    alice_events = alice.client.events(0)

    listed = (await alice.call("contacts"))["contacts"]
    assert [(c["alias"], c["pq"], c["ratchet_version"], c["stuck"]) for c in listed] == [
        ("Bob", True, 2, False)
    ]
    sent = await alice.call("send", contact="Bob", texts=["one", "two", "three"])
    got = await next_events(bob_events, 3)
    assert [e["text"] for e in got] == ["one", "two", "three"]
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)
    first = got[0]["id"]
    assert first is not None
    receipts = await next_events(alice_events, 3, ("receipt",))
    assert sorted(r["id"] or 0 for r in receipts) == sent["sent"]
    assert {r["text"] for r in receipts} == {"delivered"}

    await bob.call("send", contact="Alice", texts=["reply"], reply_to=first)
    await bob.call("react", contact="Alice", message_id=first, emoji="👍")
    await next_events(alice_events, 1)
    await next_events(alice_events, 1, ("reaction",))
    await alice.call("edit", contact="Bob", message_id=sent["sent"][1], text="two!")
    await alice.call("delete", contact="Bob", message_id=sent["sent"][2], for_everyone=True)
    edited, deleted = await next_events(bob_events, 2, ("edit", "delete"))
    assert (edited["kind"], edited["text"], deleted["kind"]) == ("edit", "two!", "delete")
    history = await bob.call("history", contact="Alice")
    assert [m["text"] for m in history["messages"][:2]] == ["one", "two!"]
    assert history["messages"][2]["deleted"] == "for_everyone"
    reply = history["messages"][3]
    assert (reply["text"], reply["is_reply"], reply["reply_to"]) == ("reply", True, first)
    last = (await bob.call("history", contact="Alice", limit=1))["messages"][0]
    assert (last["text"], last["is_reply"], last["reply_to"]) == ("reply", True, None)

    logged = await bob.call("events", since=0)
    assert [e["seq"] for e in logged["events"]] == list(range(1, logged["last"] + 1))

    # The contact address: Bob asks twice; Alice accepts one request and rejects one.
    link = (await alice.call("address.create"))["link"]
    assert (await alice.call("address.show"))["link"] == link
    await bob.call("connect", link=link)
    await bob.call("connect", link=link)
    await next_events(alice_events, 2, ("request",))
    pending = (await alice.call("requests"))["requests"]
    assert len(pending) == 2
    accepted = await alice.call("accept", request_id=pending[0]["id"])
    assert accepted["contact"]["status"] == "connecting"
    assert (await alice.call("reject", request_id=pending[1]["id"])) == {
        "rejected": pending[1]["id"]
    }
    await alice.call("address.delete")
    requester = accepted["contact"]["alias"]
    assert (await alice.call("remove", contact=requester))["removed"] == requester
    assert requester not in [c["alias"] for c in (await alice.call("contacts"))["contacts"]]
    invitation = (await alice.call("invite"))["link"]
    assert invitation.startswith("veil")
    await alice.call("rename", contact="Bob", alias="Robert")
    code = (await alice.call("verify", contact="Robert"))["code"]
    their_code = (await bob.call("verify", contact="Alice"))["code"]
    assert code == their_code
    checked = await alice.call("verify", contact="Robert", code=their_code)
    assert (checked["verified"], checked["pq"], checked["code_version"]) == (True, True, 2)
    assert (await alice.call("repair", contact="Robert"))["repaired"] is False
    relays = await alice.call("relays")
    assert [r["receive"] for r in relays["relays"]] == [True]
    assert (await alice.call("operators"))["operators"][0]["relays"] == relays["relays"]
    assert (await bob.client.call("subscribe", {"since": 0}))["since"] == 0
    bob.called.add("subscribe")

    # The file methods need a file relay and the group methods a group: each family has
    # its own test (test_files_api.py, test_groups_api.py) that calls all of it.
    own_tests = ("file.", "group.")
    assert alice.called | bob.called == {m for m in METHODS if not m.startswith(own_tests)}
    for client in (alice, bob):
        await client.client.close()


async def test_a_client_that_reconnects_resumes_from_its_last_sequence_number(
    services: tuple[ServiceProcess, ServiceProcess],
) -> None:
    alice_service, bob_service = services
    async with await ServiceClient.connect(alice_service.home) as alice:
        bob = await ServiceClient.connect(bob_service.home)
        await alice.call("send", {"contact": "Bob", "texts": [f"m{i}" for i in range(5)]})
        seen = await next_events(bob.events(0), 5)
        await bob.close()
        await alice.call("send", {"contact": "Bob", "texts": [f"m{i}" for i in range(5, 10)]})
        async with await ServiceClient.connect(bob_service.home) as bob_again:
            rest = await next_events(bob_again.events(seen[-1]["seq"]), 5)
    texts = [e["text"] for e in seen + rest]
    assert texts == [f"m{i}" for i in range(10)]
    assert len({e["seq"] for e in seen + rest}) == 10


async def test_a_failed_call_raises_the_services_error_and_the_connection_goes_on(
    services: tuple[ServiceProcess, ServiceProcess],
) -> None:
    async with await ServiceClient.connect(services[0].home) as alice:
        with pytest.raises(RemoteError) as failure:
            await alice.call("send", {"contact": "Zed", "texts": ["hi"]})
        assert (failure.value.remote_code, failure.value.kind) == (626, "RecordNotFound")
        assert len((await alice.call("contacts", {}))["contacts"]) == 1


async def test_the_cli_goes_through_a_running_service_and_directly_without(
    pair: tuple[VeilUser, VeilUser],
) -> None:
    alice, bob = pair
    service = ServiceProcess(bob)
    await service.start()
    try:
        # Through the service the CLI never opens the store, so a wrong passphrase
        # does not matter; directly it would.
        bob.env = {**bob.env, "VEIL_PASSPHRASE": "not the passphrase"}
        await alice.run("send", "Bob", "over the relay")
        for _ in range(60):
            events = await bob.receive(1.0)
            if events:
                break
        assert [e["text"] for e in events if e["kind"] == "message"] == ["over the relay"]
        assert set(events[0]) == {"kind", "contact", "text", "id", "integrity", "request"}
        sent = await bob.run("send", "Alice", "via the service")
        assert sent["pending"] == 0
        assert (await bob.receive(0.5)) == []
        failure = await bob.run("history", "Nobody", ok=False)
        assert (failure["code"], failure["kind"]) == (626, "RecordNotFound")
        assert await service.stop() == 0
        failure = await bob.run("contacts", ok=False)
        assert failure["kind"] == "WrongPassphrase"
    finally:
        await service.kill()
    bob.env = alice.env
    history = await bob.history("Alice")
    assert [m["text"] for m in history] == ["over the relay", "via the service"]
    assert (await alice.receive(1.0))[0]["text"] == "via the service"
