"""The group engine over a real TLS relay's group logs: join, talk, big entries in
parts, a commit, removal (the removed member is told and reads nothing more); ten
members committing at the same moment; a hundred members; bad input (a malformed
entry, a removed writer, a forged reader id) refused while the group carries on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from helpers.group_log import MemoryGroupStore
from helpers.groups import Client, admit_all, sync_all
from helpers.relay import RunningTestRelay
from veil.agent.groups.engine import GroupEngine
from veil.agent.groups.errors import (
    AccessRevoked,
    MalformedGroupData,
    NotAMember,
    StaleGroupEntry,
)
from veil.agent.groups.events import EntryRejected, EpochChanged, WeLeft
from veil.agent.groups.relay_log import PART_DATA, RelayGroupLog
from veil.agent.groups.wire import encode_entry
from veil.crypto import SystemRandom
from veil.mls.codec import TlsWriter, decode
from veil.mls.operations import encrypt_application
from veil.relay.client.log_events import LogReader
from veil.relay.client.relay_client import RelayClient

RNG = SystemRandom()

Logs = Callable[[int], list[RelayGroupLog]]
"""``n`` -> that many group-log ports, each with its own connection to the relay."""


async def _connect(address: str) -> RelayClient:
    return await RelayClient.connect(address, delivery_window=64)


@pytest.fixture
async def logs(relay: RunningTestRelay) -> AsyncIterator[Logs]:
    made: list[RelayGroupLog] = []

    def make(n: int) -> list[RelayGroupLog]:
        made.extend(RelayGroupLog(_connect, str(relay.address), RNG) for _ in range(n))
        return made[-n:]

    yield make
    for log in made:
        await log.close()


def _clients(logs: list[RelayGroupLog]) -> list[Client]:
    stores = [MemoryGroupStore() for _ in logs]
    return [
        Client(f"user{i}", GroupEngine(store, log, rng=RNG, clock=lambda: 1.8e9), store)
        for i, (log, store) in enumerate(zip(logs, stores, strict=True))
    ]


async def _group(clients: list[Client]) -> bytes:
    """Everyone admitted in one commit and settled."""
    owner = clients[0]
    group_id = await owner.engine.create("Relay club", owner.name)
    await admit_all(owner, group_id, clients[1:])
    await sync_all(clients, group_id, together=True)
    return group_id


def _epoch(client: Client, group_id: bytes) -> int:
    return client.engine.member(group_id).mls.context.epoch


async def test_ten_simultaneous_commits_over_a_real_relay(logs: Logs) -> None:
    clients = _clients(logs(10))
    group_id = await _group(clients)
    start = _epoch(clients[0], group_id)
    for client in clients:
        client.events.clear()

    async def commit_and_talk(client: Client) -> None:
        await client.engine.update_keys(group_id)
        await client.engine.post(group_id, client.name.encode())

    await asyncio.gather(*(commit_and_talk(client) for client in clients))
    await sync_all(clients, group_id, together=True)

    assert {_epoch(client, group_id) for client in clients} == {start + 10}
    assert len({c.engine.member(group_id).mls.epoch_authenticator for c in clients}) == 1
    winners = [
        [(e.epoch, e.committer) for e in c.events if isinstance(e, EpochChanged)] for c in clients
    ]
    assert all(w == winners[0] for w in winners)  # the same winner of each epoch for all
    assert [epoch for epoch, _ in winners[0]] == list(range(start + 1, start + 11))
    assert len({committer for _, committer in winners[0]}) == 10  # each won one epoch
    for client in clients:  # every other commit of an epoch was refused as stale
        stale = [
            e
            for e in client.events
            if isinstance(e, EntryRejected) and isinstance(e.error, StaleGroupEntry)
        ]
        assert stale
    histories = [client.history() for client in clients]
    assert all(history == histories[0] for history in histories)
    assert sorted(text for _, text in histories[0]) == sorted(c.name.encode() for c in clients)


@pytest.mark.slow
async def test_one_hundred_members_over_a_real_relay(logs: Logs) -> None:
    clients = _clients(logs(100))
    group_id = await _group(clients)
    for index in range(0, 100, 10):
        await clients[index].engine.post(group_id, f"from {index}".encode())
    await clients[57].engine.update_keys(group_id)
    await sync_all(clients, group_id, together=True)
    histories = [client.history() for client in clients]
    assert sorted(text for _, text in histories[0]) == sorted(
        f"from {index}".encode() for index in range(0, 100, 10)
    )
    assert all(history == histories[0] for history in histories)
    assert len({_epoch(client, group_id) for client in clients}) == 1
    authenticators = {c.engine.member(group_id).mls.epoch_authenticator for c in clients}
    assert len(authenticators) == 1


async def test_a_group_over_a_real_relay(logs: Logs) -> None:
    clients = _clients(logs(3))
    ann, bob, cy = clients
    group_id = await _group(clients)
    big = bytes(range(256)) * (2 * PART_DATA // 256 + 7)  # three parts
    await bob.engine.post(group_id, b"hello over the relay")
    await cy.engine.post(group_id, big)
    await ann.engine.update_keys(group_id)
    await sync_all(clients, group_id, together=True)
    histories = [client.history() for client in clients]
    assert [text for _, text in histories[0]] == [b"hello over the relay", big]
    assert histories[0] == histories[1] == histories[2]
    assert len({c.engine.member(group_id).mls.epoch_authenticator for c in clients}) == 1

    await ann.engine.remove(group_id, cy.engine.member(group_id).handle)
    await sync_all(clients, group_id, together=True)
    assert any(isinstance(e, WeLeft) and e.removed for e in cy.events)
    await ann.engine.post(group_id, b"after cy left")
    await sync_all(clients[:2], group_id, together=True)
    assert bob.history()[-1][1] == b"after cy left"
    assert b"after cy left" not in [text for _, text in cy.history()]


def _forged_reader(access: bytes) -> bytes:
    """``access`` with a random reader id (the keys stay: only the id is forged)."""
    relay, reader, writer = decode(access, lambda r: [r.opaque(4096) for _ in range(3)])
    real = LogReader.decode(reader)
    forged = LogReader(RNG.random_bytes(len(real.reader_id)), real.auth, real.delivery_key)
    return TlsWriter().opaque(relay).opaque(forged.encode()).opaque(writer).build()


async def test_bad_input_over_a_real_relay_is_refused_and_the_group_carries_on(
    logs: Logs,
) -> None:
    ports = logs(4)
    clients = _clients(ports)
    ann, bob, cy, dee = clients
    group_id = await _group(clients)

    seq = await ports[1].post(bob.engine.member(group_id).access, b"\x01 not an MLS message")
    await sync_all(clients, group_id, together=True)
    for client in clients:  # every member refuses it at the same place
        (rejected,) = [e for e in client.events if isinstance(e, EntryRejected)]
        assert rejected.seq == seq and isinstance(rejected.error, MalformedGroupData)

    removed = cy.engine.member(group_id)
    await ann.engine.remove(group_id, removed.handle)
    await sync_all(clients, group_id, together=True)
    with pytest.raises(NotAMember, match="no longer in this group"):
        await cy.engine.post(group_id, b"still here?")
    message, _ = encrypt_application(removed.mls, b"let me in", RNG)
    with pytest.raises(AccessRevoked, match="no longer accepts our posts"):
        await ports[2].post(removed.access, encode_entry(message))

    forged = _forged_reader(dee.engine.member(group_id).access)
    with pytest.raises(AccessRevoked, match="no longer knows our reader"):
        await logs(1)[0].read(forged, 0, 1)

    await dee.engine.post(group_id, b"carry on")
    await sync_all([ann, bob, dee], group_id, together=True)
    assert all(client.history()[-1][1] == b"carry on" for client in (ann, bob, dee))
    assert b"carry on" not in [text for _, text in cy.history()]
    states = [client.engine.member(group_id).mls for client in (ann, bob, dee)]
    assert len({state.epoch_authenticator for state in states}) == 1
