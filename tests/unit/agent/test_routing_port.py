"""RoutedRelays: what a long-running agent keeps about failing proxies."""

from __future__ import annotations

import pytest

from veil.agent.payloads import QueueAddress
from veil.agent.queues import SendQueue
from veil.agent.relay_pool import RelayPool
from veil.agent.relays import RelayUnavailable
from veil.agent.routing_port import KEPT_PROXY_FAILURES, RoutedRelays
from veil.crypto import DeterministicRandom
from veil.relay.protocol.address import RelayAddress, encode_fingerprint
from veil.routing.policy import RelayEntry, RoutingMode, RoutingPolicy


def _relay(number: int) -> RelayAddress:
    return RelayAddress.parse(f"veil://{encode_fingerprint(bytes([number]) * 32)}@r{number}.test")


class _UnreachableProxies:
    """A pool whose proxies can never be reached."""

    async def client(self, relay: str) -> object:
        raise RelayUnavailable(f"{relay} is down")


async def test_proxy_failures_keep_only_the_most_recent() -> None:
    proxies = [RelayEntry(_relay(n), operator=f"op{n}", own=False) for n in range(1, 8)]
    policy = RoutingPolicy(tuple(proxies), mode=RoutingMode.ALWAYS)
    pool: RelayPool = _UnreachableProxies()  # type: ignore[assignment]
    relays = RoutedRelays(pool, policy, DeterministicRandom(b"proxies"))
    queue = SendQueue(QueueAddress(str(_relay(99)), b"s" * 24), bytes(range(32)))
    for _ in range(2 * KEPT_PROXY_FAILURES // len(proxies) + 1):
        with pytest.raises(RelayUnavailable, match="never sent directly"):
            await relays.send(queue, b"frame")
    assert len(relays.proxy_failures) == KEPT_PROXY_FAILURES
    assert all("is down" in failure for failure in relays.proxy_failures)
