"""What one client can hold on a proxy: idle destination sessions and pending PRXY."""

from __future__ import annotations

import asyncio

import pytest

from helpers.relay import RunningTestRelay
from veil.crypto import SystemRandom
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.address import RelayAddress
from veil.relay.server.log_service import GroupLogService
from veil.routing.destination import RoutingRoles
from veil.routing.errors import DestinationUnreachable
from veil.routing.proxied_path import ProxiedPath
from veil.routing.proxied_sender import proxy_request, read_proxy_key
from veil.routing.proxy import MAX_PENDING_REQUESTS, PROXY_IDLE_TIMEOUT, RelayProxy


async def test_idle_destination_sessions_are_closed_and_reopened_on_demand(
    pair: tuple[RunningTestRelay, RunningTestRelay],
) -> None:
    proxy, destination = pair
    logs = proxy.service.extension
    assert isinstance(logs, GroupLogService)  # private routing sits behind group logs
    roles = logs.inner
    assert isinstance(roles, RoutingRoles)
    relay_proxy = roles.proxy
    assert isinstance(relay_proxy, RelayProxy)
    async with await RelayClient.connect(proxy.address) as alice:
        path = ProxiedPath(alice, destination.address, SystemRandom())
        await path.ping()
        now = asyncio.get_running_loop().time()
        assert relay_proxy.evict_idle(now) == 0  # just used
        assert relay_proxy.evict_idle(now + PROXY_IDLE_TIMEOUT + 1) == 1
        await path.ping()  # 481, then a fresh PRXY and session
    assert proxy.service.metrics.proxy_sessions_opened == 2


async def test_one_connection_may_have_only_a_few_prxy_waiting(
    pair: tuple[RunningTestRelay, RunningTestRelay],
) -> None:
    proxy, destination = pair

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts TCP, never answers TLS: a slow destination

    tarpit = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = tarpit.sockets[0].getsockname()[1]
    slow = RelayAddress(destination.address.fingerprint, ("127.0.0.1",), port)
    rng = SystemRandom()
    try:
        async with await RelayClient.connect(proxy.address) as alice:
            waiting = [
                asyncio.create_task(alice.exchange(lambda: proxy_request(slow, rng)))
                for _ in range(MAX_PENDING_REQUESTS)
            ]
            await asyncio.sleep(0)  # the waiting PRXY go out first, in one block
            extra = await asyncio.wait_for(alice.exchange(lambda: proxy_request(slow, rng)), 10)
            with pytest.raises(DestinationUnreachable):
                read_proxy_key(extra, slow)
            assert not any(task.done() for task in waiting)
            for task in waiting:
                task.cancel()
    finally:
        tarpit.close()
