"""``kill -9`` of a service while messages arrive: after a restart nothing is lost,
nothing is duplicated, and the API client resumes from its sequence number."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from helpers.veil_service import ServiceProcess
from veil.service.api_types import EventShape
from veil.service.client import ServiceClient
from veil.service.errors import ServiceClosed

pytestmark = pytest.mark.slow
MESSAGES = 40
WAIT = 120.0


async def _collect(client: ServiceClient, since: int, into: list[EventShape]) -> None:
    """Gather events until the service goes away."""
    with contextlib.suppress(ServiceClosed):
        async for event in client.events(since):
            into.append(event)


async def test_kill_9_while_messages_arrive_loses_and_duplicates_nothing(
    services: tuple[ServiceProcess, ServiceProcess],
) -> None:
    alice_service, bob_service = services
    seen: list[EventShape] = []
    bob = await ServiceClient.connect(bob_service.home)
    listener = asyncio.create_task(_collect(bob, 0, seen))
    async with await ServiceClient.connect(alice_service.home) as alice:
        for batch in range(MESSAGES // 5):
            texts = [f"m{batch * 5 + i}" for i in range(5)]
            await alice.call("send", {"contact": "Bob", "texts": texts})
            if batch == 3:
                await bob_service.kill()
            await asyncio.sleep(0.05)
    await asyncio.wait_for(listener, WAIT)
    await bob.close()
    assert seen, "no event arrived before the kill"

    await bob_service.start()
    async with await ServiceClient.connect(bob_service.home) as bob_again:
        rest: list[EventShape] = []
        since = seen[-1]["seq"]
        stream = bob_again.events(since)
        while sum(e["kind"] == "message" for e in seen + rest) < MESSAGES:
            rest.append(await asyncio.wait_for(anext(stream), WAIT))
        history = (await bob_again.call("history", {"contact": "Alice"}))["messages"]
    events = seen + rest
    texts = [e["text"] for e in events if e["kind"] == "message"]
    assert sorted(texts, key=lambda t: int(t[1:])) == [f"m{i}" for i in range(MESSAGES)]
    assert len({e["seq"] for e in events}) == len(events)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert [m["text"] for m in history] == [f"m{i}" for i in range(MESSAGES)]
