"""Groups beside running services: one relay, three profiles each with its ``veil
serve``; a group created, joined and chatted in through the API and through the CLI
(which goes through the service), every ``group.*`` method called and its result
checked against the checked-in schema, and the group's events arriving in log order
on a subscription without anyone calling ``group.sync``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from e2e.service.test_api import SCHEMA, CheckedClient
from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser
from helpers.veil_service import ServiceProcess
from veil.service.api_types import EventShape
from veil.service.catalog import METHODS
from veil.service.client import ServiceClient

pytestmark = pytest.mark.slow

GROUP = "Lantern Street Chess 5521"
EVENT_WAIT = 90.0
EVENT_SCHEMA = {**SCHEMA["notifications"]["event"]["params"], "definitions": SCHEMA["definitions"]}


class Member:
    """A CLI user with a running service and a checked API client with a subscription."""

    def __init__(self, user: VeilUser, service: ServiceProcess, client: ServiceClient) -> None:
        self.user, self.service = user, service
        self.api = CheckedClient(client)
        self.events = client.events(0)

    async def next(self, *kinds: str, count: int = 1) -> list[EventShape]:
        """The next ``count`` events of the group ``club`` of these kinds (others are
        skipped), each checked against the event schema."""
        found: list[EventShape] = []
        while len(found) < count:
            event = await asyncio.wait_for(anext(self.events), EVENT_WAIT)
            jsonschema.validate(event, EVENT_SCHEMA)
            if event.get("group") == "club" and event["kind"] in kinds:
                found.append(event)
        return found

    async def request(self) -> int:
        """The id of the next contact request."""
        while True:
            event = await asyncio.wait_for(anext(self.events), EVENT_WAIT)
            if event["kind"] == "request" and event["request"] is not None:
                return event["request"]


@pytest.fixture
async def members(relay: RelayProcess, tmp_path: Path) -> AsyncIterator[list[Member]]:
    """Ann, Bob and Cy on ``relay``, each with a running service and a client."""
    started: list[Member] = []
    for name in ("Ann", "Bob", "Cy"):
        user = VeilUser(tmp_path / name.lower(), name)
        await user.init(relay)
        service = ServiceProcess(user)
        await service.start()
        started.append(Member(user, service, await ServiceClient.connect(user.home)))
    yield started
    for member in started:
        await member.api.client.close()
        await member.service.kill()


def _texts(history: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(m["seq"], m["name"], m["text"]) for m in history["messages"]]


async def _same_histories(members: list[Member]) -> list[list[tuple[int, str, str]]]:
    """Every member's history once all agree (each service catches up on its own)."""
    for _ in range(int(EVENT_WAIT)):
        histories = [_texts(await m.api.call("group.history", group="club")) for m in members]
        if all(history == histories[0] for history in histories):
            return histories
        await asyncio.sleep(1.0)
    raise AssertionError(f"the histories never agreed: {histories}")


async def test_a_group_through_the_api_and_the_cli_beside_running_services(
    members: list[Member],
) -> None:
    ann, bob, cy = members
    created = await ann.api.call("group.create", name=GROUP, alias="club")
    assert created["group"] == "club"

    # Bob joins through the API; the services finish the join by themselves.
    link = (await ann.api.call("group.invite", group="club"))["link"]
    assert (await bob.api.call("group.join", link=link, alias="club"))["status"] == "requested"
    await ann.api.call("accept", request_id=await ann.request())
    await bob.next("group-joined")
    assert (await ann.next("member-joined"))[0]["sender"] == "Bob"

    # Cy joins through the CLI, which goes through Cy's and Ann's services.
    link = (await ann.user.run("group", "invite", "club"))["link"]
    assert (await cy.user.run("group", "join", link, "--alias", "club"))["group"] == "club"
    await ann.user.run("accept", str(await ann.request()))
    await cy.next("group-joined")
    assert [e["sender"] for e in await bob.next("member-joined")] == ["Cy"]
    assert (await cy.user.run("group", "list"))["groups"] == ["club"]

    # Chat: nobody calls group.sync; the events come in log order.
    await bob.api.call("group.send", group="club", texts=["one", "two"])
    await cy.user.run("send", "club", "three from the CLI")
    got = await ann.next("message", count=3)
    assert sorted((e["sender"], e["text"]) for e in got) == [
        ("Bob", "one"),
        ("Bob", "two"),
        ("Cy", "three from the CLI"),
    ]
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)
    assert [e["id"] for e in got] == sorted(e["id"] or 0 for e in got)
    assert {e["contact"] for e in got} == {None}  # never taken for a 1:1 message
    first = got[0]["id"]
    assert first is not None

    await ann.api.call("group.send", group="club", texts=["re: one"], reply_to=first)
    await bob.api.call("group.edit", group="club", seq=first, text="one!")
    await cy.user.run("react", "club", str(first), "👍")
    cy_events = await cy.next("message", "edit", count=4)
    assert [e["kind"] for e in cy_events][-1] == "edit"
    second = next(e["id"] for e in cy_events if e["text"] == "two")
    assert second is not None
    await bob.api.call("group.delete", group="club", seq=second)
    await cy.api.call("group.react", group="club", seq=first, emoji="🎉", remove=False)
    changes = await ann.next("edit", "reaction", "delete", count=4)
    assert [(e["kind"], e["sender"]) for e in changes] == [
        ("edit", "Bob"),
        ("reaction", "Cy"),
        ("delete", "Bob"),
        ("reaction", "Cy"),
    ]
    histories = await _same_histories(members)
    cli_history = await cy.user.run("history", "club")
    assert _texts(cli_history) == histories[0]
    message = next(m for m in cli_history["messages"] if m["seq"] == first)
    assert (message["text"], message["edited"]) == ("one!", True)
    assert sorted(emoji for _, emoji in message["reactions"]) == ["🎉"]

    assert (await ann.api.call("group.sync", idle=0.1))["notices"] is not None
    roles = {
        m["name"]: m["role"] for m in (await cy.api.call("group.members", group="club"))["members"]
    }
    assert roles == {"Ann": "owner", "Bob": "member", "Cy": "member"}
    await ann.api.call("group.role", group="club", member="Bob", role="admin")
    assert [(e["sender"], e["text"]) for e in await cy.next("role-changed")] == [("Bob", "admin")]
    await bob.api.call("group.remove", group="club", member="Cy")
    removed = await ann.next("member-removed")
    assert (removed[0]["sender"], removed[0]["text"]) == ("Cy", "Bob")
    await cy.next("group-removed")
    assert (await cy.api.call("group.info", group="club"))["status"] == "removed"
    await bob.api.call("group.leave", group="club")
    assert (await ann.next("member-left"))[0]["sender"] == "Bob"
    info = await ann.api.call("group.info", group="club")
    assert (info["name"], info["members"], info["role"]) == (GROUP, 1, "owner")
    assert (await ann.api.call("group.list"))["groups"] == ["club"]

    called = ann.api.called | bob.api.called | cy.api.called
    assert {m for m in METHODS if m.startswith("group.")} <= called
