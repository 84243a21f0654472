"""The group engine over a real TLS relay's group logs: join, talk, big entries in
parts, a commit, removal (the removed member is told and reads nothing more)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from helpers.group_log import MemoryGroupStore
from helpers.groups import Client
from helpers.relay import RunningTestRelay
from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.events import MemberAdmitted, WeLeft
from veil.agent.groups.relay_log import PART_DATA, RelayGroupLog
from veil.crypto import SystemRandom
from veil.relay.client.relay_client import RelayClient

RNG = SystemRandom()


async def _connect(address: str) -> RelayClient:
    return await RelayClient.connect(address, delivery_window=64)


@pytest.fixture
async def logs(relay: RunningTestRelay) -> AsyncIterator[list[RelayGroupLog]]:
    made = [RelayGroupLog(_connect, str(relay.address), RNG) for _ in range(4)]
    yield made
    for log in made:
        await log.close()


async def _sync_all(clients: list[Client], group_id: bytes) -> None:
    for _ in range(3):
        for client in clients:
            await client.sync(group_id)


def _clients(logs: list[RelayGroupLog]) -> list[Client]:
    names = ("ann", "bob", "cy", "dee")
    stores = [MemoryGroupStore() for _ in logs]
    return [
        Client(name, GroupEngine(store, log, rng=RNG, clock=lambda: 1.8e9), store)
        for name, log, store in zip(names, logs, stores, strict=True)
    ]


async def _group(clients: list[Client]) -> bytes:
    owner, joiners = clients[0], clients[1:]
    group_id = await owner.engine.create("Relay club", "Ann")
    secrets = {}
    for joiner in joiners:
        request, secrets[joiner.name.encode()] = joiner.engine.request_join(joiner.name)
        await owner.engine.admit(group_id, request, joiner.name.encode(), flush=False)
    await owner.engine.flush(group_id)
    by_ticket = {joiner.name.encode(): joiner for joiner in joiners}
    for _ in range(3):
        for event in await owner.sync(group_id):
            if isinstance(event, MemberAdmitted):
                await by_ticket[event.ticket].engine.join(event.bundle, secrets[event.ticket])
                del by_ticket[event.ticket]
    assert not by_ticket
    return group_id


async def test_simultaneous_commits_over_a_real_relay(logs: list[RelayGroupLog]) -> None:
    clients = _clients(logs)
    group_id = await _group(clients)
    await _sync_all(clients, group_id)
    start = clients[0].engine.member(group_id).mls.context.epoch

    async def commit_and_talk(client: Client) -> None:
        await client.engine.update_keys(group_id)
        await client.engine.post(group_id, client.name.encode())

    await asyncio.gather(*(commit_and_talk(client) for client in clients))
    for _ in range(4):
        await _sync_all(clients, group_id)
    assert {c.engine.member(group_id).mls.context.epoch for c in clients} == {start + 4}
    assert len({c.engine.member(group_id).mls.epoch_authenticator for c in clients}) == 1
    histories = [client.history() for client in clients]
    assert all(history == histories[0] for history in histories)
    assert sorted(text for _, text in histories[0]) == [b"ann", b"bob", b"cy", b"dee"]


async def test_a_group_over_a_real_relay(logs: list[RelayGroupLog]) -> None:
    clients = _clients(logs)[:3]
    ann, bob, cy = clients
    group_id = await _group(clients)
    big = bytes(range(256)) * (2 * PART_DATA // 256 + 7)  # three parts
    await bob.engine.post(group_id, b"hello over the relay")
    await cy.engine.post(group_id, big)
    await ann.engine.update_keys(group_id)
    await _sync_all(clients, group_id)
    histories = [client.history() for client in clients]
    assert [text for _, text in histories[0]] == [b"hello over the relay", big]
    assert histories[0] == histories[1] == histories[2]
    assert len({c.engine.member(group_id).mls.epoch_authenticator for c in clients}) == 1

    await ann.engine.remove(group_id, cy.engine.member(group_id).handle)
    await _sync_all(clients, group_id)
    assert any(isinstance(e, WeLeft) and e.removed for e in cy.events)
    await ann.engine.post(group_id, b"after cy left")
    await _sync_all(clients[:2], group_id)
    assert bob.history()[-1][1] == b"after cy left"
    assert b"after cy left" not in [text for _, text in cy.history()]
