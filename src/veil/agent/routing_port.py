"""The agent's relays with private routing: sender commands go through a proxy relay.

:class:`RoutedRelays` implements :class:`~veil.agent.relays.RelayPort` over a
:class:`~veil.agent.relay_pool.RelayPool`. Recipient commands (on our own
queues) always go to our relay directly. Sender commands (``SKEY``, ``SEND``)
follow :func:`veil.routing.policy.choose_route`: direct, or through a proxy.

Fallback rules (``docs/protocol/routing.md`` section 7): a proxy that cannot be
reached, refuses to proxy, or cannot prove the destination is set aside for this
send and another is tried; when none is left, or the destination itself is
down, the send fails with :class:`RelayUnavailable` and the outbox retries it
later. A proxied send never falls back to a direct connection. A retry may
repeat a command the destination already stored; the agent drops the duplicate.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence

from veil.agent.queues import ReceiveQueue, SendQueue
from veil.agent.relay_pool import COMMAND_TIMEOUT_SECONDS, RelayPool
from veil.agent.relays import Delivery, RelayUnavailable
from veil.crypto import RandomSource, X25519KeyPair
from veil.errors import ProtocolError
from veil.relay.client.file_uploads import DirectUploads, UploadPort
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import CommandError
from veil.routing.errors import DestinationUnreachable, NoRouteAvailable
from veil.routing.policy import DirectRoute, RoutingPolicy, choose_route
from veil.routing.proxied_files import ProxiedUploads
from veil.routing.proxied_path import ProxiedPath

__all__ = ["KEPT_PROXY_FAILURES", "RoutedRelays"]

KEPT_PROXY_FAILURES = 16

_ProxiedCommand = Callable[[ProxiedPath], Awaitable[None]]

# Every send names its destination relay as text; parse each one once, not per message.
_parsed_address = functools.lru_cache(maxsize=1024)(RelayAddress.parse)


class RoutedRelays:
    """A :class:`RelayPort` that sends through proxies as ``policy`` says."""

    def __init__(self, pool: RelayPool, policy: RoutingPolicy, rng: RandomSource) -> None:
        self._pool = pool
        self.policy = policy
        self._rng = rng
        self._paths: dict[tuple[str, str], ProxiedPath] = {}
        self.routes: dict[str, str] = {}
        """Destination relay → how the last send reached it ("direct" or the proxy's address)."""
        self.proxy_failures: list[str] = []
        """What went wrong with proxies lately (the last :data:`KEPT_PROXY_FAILURES`),
        for the user (no retry hides it)."""

    async def send(self, queue: SendQueue, body: bytes) -> None:
        """``SEND``, direct or through a proxy; returns once the destination stored it."""
        sender_id = queue.address.sender_id
        await self._sender_command(
            queue,
            lambda: self._pool.send(queue, body),
            lambda path: path.send(sender_id, X25519KeyPair(queue.sender_auth_key), body),
        )

    async def secure_peer_queue(self, queue: SendQueue) -> None:
        """``SKEY``, direct or through a proxy."""
        sender_id = queue.address.sender_id
        await self._sender_command(
            queue,
            lambda: self._pool.secure_peer_queue(queue),
            lambda path: path.sender_secure(sender_id, X25519KeyPair(queue.sender_auth_key)),
        )

    async def _sender_command(
        self, queue: SendQueue, direct: Callable[[], Awaitable[None]], proxied: _ProxiedCommand
    ) -> None:
        destination = _parsed_address(queue.address.relay)
        failed: set[str] = set()
        while True:
            try:
                route = choose_route(
                    self.policy, destination, self._rng, failed_proxies=frozenset(failed)
                )
            except NoRouteAvailable as exc:
                raise RelayUnavailable(
                    f"{exc}; the message waits in your outbox (never sent directly). "
                    f"Proxy problems: {'; '.join(self.proxy_failures[-3:]) or 'none'}"
                ) from exc
            if isinstance(route, DirectRoute):
                self.routes[str(destination)] = "direct"
                await direct()
                return
            proxy = str(route.proxy.address)
            if await self._through(proxy, destination, proxied):
                self.routes[str(destination)] = proxy
                return
            failed.add(route.proxy.fingerprint)

    async def _through(
        self, proxy: str, destination: RelayAddress, proxied: _ProxiedCommand
    ) -> bool:
        """Run one command via ``proxy``; ``False`` if that proxy failed (try another)."""
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT_SECONDS):
                await proxied(await self._path(proxy, destination))
        except (DestinationUnreachable, CommandError) as exc:
            # The destination is down or refused the command: another proxy changes nothing.
            raise RelayUnavailable(
                f"relay {destination} is unavailable through proxy {proxy} "
                f"({type(exc).__name__}: {exc}); the message waits in your outbox"
            ) from exc
        except (ProtocolError, RelayUnavailable, OSError, TimeoutError) as exc:
            self._paths.pop((proxy, str(destination)), None)
            self.proxy_failures.append(f"proxy {proxy}: {type(exc).__name__}: {exc}")
            # A long-running agent meets failures without end; keep only recent ones.
            del self.proxy_failures[:-KEPT_PROXY_FAILURES]
            return False
        return True

    async def _path(self, proxy: str, destination: RelayAddress) -> ProxiedPath:
        key = (proxy, str(destination))
        path = self._paths.get(key)
        if path is None:
            path = ProxiedPath(await self._pool.client(proxy), destination, self._rng)
            self._paths[key] = path
        return path

    async def upload_port(self, relay: str) -> UploadPort:
        """Where file uploads to ``relay`` go: direct, or through a proxy (chosen anew
        for each call) as the policy says; never direct when it says proxy."""
        destination = _parsed_address(relay)
        try:
            route = choose_route(self.policy, destination, self._rng)
        except NoRouteAvailable as exc:
            raise RelayUnavailable(f"{exc}; the upload resumes when a proxy answers") from exc
        if isinstance(route, DirectRoute):
            return DirectUploads(await self._pool.client(relay))
        return ProxiedUploads(await self._path(str(route.proxy.address), destination))

    # -- everything else is the pool's -------------------------------------------------

    async def create_queue(self, relay: str) -> ReceiveQueue:
        """``NEW`` on our own ``relay`` (direct)."""
        return await self._pool.create_queue(relay)

    async def secure_own_queue(self, queue: ReceiveQueue, sender_auth_public: bytes) -> None:
        """``KEY`` on one of our queues (direct)."""
        await self._pool.secure_own_queue(queue, sender_auth_public)

    async def subscribe(
        self, queues: Sequence[ReceiveQueue], on_delivery: Callable[[Delivery], None]
    ) -> None:
        """``SUB`` on our own relays (direct)."""
        await self._pool.subscribe(queues, on_delivery)

    async def resubscribe(self, queues: Sequence[ReceiveQueue]) -> None:
        """``SUB`` again on our own relays (direct)."""
        await self._pool.resubscribe(queues)

    async def acknowledge(self, queue: ReceiveQueue, message_id: bytes) -> None:
        """``ACK`` (direct)."""
        await self._pool.acknowledge(queue, message_id)

    async def delete_queue(self, queue: ReceiveQueue) -> None:
        """``DEL`` (direct)."""
        await self._pool.delete_queue(queue)

    async def take_once(self, queue: ReceiveQueue) -> bytes | None:
        """``GET`` then ``DEL`` (direct, on a session of its own)."""
        return await self._pool.take_once(queue)

    async def close(self) -> None:
        """Close every relay connection, proxies included."""
        self._paths.clear()
        await self._pool.close()
