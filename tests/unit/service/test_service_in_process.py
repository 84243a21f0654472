"""The service in one process, over the in-memory relay: the event log is written
with the arrivals, the in-process API answers like the service, and a client of a
running ``Service`` gets the events in order and resumes after a reconnect."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.messenger_pair import messenger_pair
from veil.service.client import ServiceClient
from veil.service.errors import EventsPruned, UnknownMethod
from veil.service.methods import LocalApi, events_after
from veil.service.server import Service

WAIT = 30.0


@pytest.fixture
def short_home() -> Iterator[Path]:
    """A short folder: a Unix socket path must fit in about 100 bytes."""
    with tempfile.TemporaryDirectory(prefix="vsvc") as folder:
        yield Path(folder)


async def test_arrivals_and_receipts_are_logged_in_order(short_home: Path) -> None:
    alice, bob = await messenger_pair(short_home)
    api = LocalApi(alice)
    sent = await api.call("send", {"contact": "bob", "texts": ["one", "two"]})
    await bob.receive(idle=0.3, on_incoming=lambda _: None)
    events, last = events_after(bob, 0, 100)
    assert [(e["seq"], e["kind"], e["text"]) for e in events] == [
        (1, "connection", "connected"),
        (2, "connected", "alice"),
        (3, "message", "one"),
        (4, "message", "two"),
    ]
    assert last == 4
    await alice.receive(idle=0.3, on_incoming=lambda _: None)
    receipts = [e for e in events_after(alice, 0, 100)[0] if e["kind"] == "receipt"]
    assert sorted(e["id"] or 0 for e in receipts) == sent["sent"]
    with pytest.raises(UnknownMethod):
        await api.call("subscribe", {"since": 0})
    for messenger in (alice, bob):
        await messenger.close()


async def test_events_dropped_from_the_log_are_reported_not_skipped(short_home: Path) -> None:
    alice, bob = await messenger_pair(short_home)
    await LocalApi(alice).call("send", {"contact": "bob", "texts": ["a", "b", "c"]})
    await bob.receive(idle=0.3, on_incoming=lambda _: None)
    with bob.store.transaction() as tx:
        tx.events.prune(1)
    assert [e["text"] for e in events_after(bob, 4, 10)[0]] == ["c"]
    with pytest.raises(EventsPruned):
        events_after(bob, 1, 10)
    for messenger in (alice, bob):
        await messenger.close()


async def test_a_running_service_streams_events_and_resumes(short_home: Path) -> None:
    alice, bob = await messenger_pair(short_home)
    stop = asyncio.Event()
    ready = asyncio.Event()
    service = asyncio.create_task(
        Service(short_home / "bob", bob).run(None, lambda _: ready.set(), stop)
    )
    await asyncio.wait_for(ready.wait(), WAIT)
    async with await ServiceClient.connect(short_home / "bob") as client:
        stream = client.events(0)
        await LocalApi(alice).call("send", {"contact": "bob", "texts": ["m1", "m2"]})
        seen = [await asyncio.wait_for(anext(stream), WAIT) for _ in range(4)]
    assert [e["kind"] for e in seen] == ["connection", "connected", "message", "message"]
    await LocalApi(alice).call("send", {"contact": "bob", "texts": ["m3"]})
    async with await ServiceClient.connect(short_home / "bob") as again:
        resumed = await asyncio.wait_for(anext(again.events(seen[-1]["seq"])), WAIT)
        assert (resumed["seq"], resumed["text"]) == (seen[-1]["seq"] + 1, "m3")
        history = await again.call("history", {"contact": "alice"})
    assert [m["text"] for m in history["messages"]] == ["m1", "m2", "m3"]
    stop.set()
    await asyncio.wait_for(service, WAIT)
    assert not (short_home / "bob" / "service.sock").exists()
    for messenger in (alice, bob):
        await messenger.close()
