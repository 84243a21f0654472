"""A relay service with the roles of private routing plugged in.

:class:`veil.relay.server.service.RelayService` serves queues only; the process
adds the proxy and destination roles of :mod:`veil.routing` as its command
extension. Everything that runs a whole relay (``veil-relay start``, the tests'
in-process relays, the benchmarks) builds it here, so they all serve the same
commands.
"""

from __future__ import annotations

from collections.abc import Callable

from veil.crypto import Ed25519KeyPair, RandomSource
from veil.relay.server.core import RelayProtocol
from veil.relay.server.log_service import GroupLogService, QueueStoreWithLogs
from veil.relay.server.log_store import LogStore, MemoryLogStore
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.service import RelayService
from veil.relay.server.settings import RelaySettings
from veil.relay.server.store.base import QueueStore
from veil.routing.destination import RoutingRoles
from veil.routing.proxy import RelayProxy

__all__ = ["relay_service"]


def relay_service(
    store: QueueStore,
    settings: RelaySettings,
    identity: Ed25519KeyPair,
    *,
    clock: Callable[[], float],
    rng: RandomSource,
    metrics: RelayMetrics | None = None,
    log_store: LogStore | None = None,
) -> RelayService:
    """A relay service over ``store`` that also serves private routing, and group logs
    kept in ``log_store`` (in memory when ``None``: nothing of them survives a restart)."""
    logs: list[GroupLogService] = []

    def extensions(core: RelayProtocol, wake: Callable[[], None]) -> GroupLogService:
        proxy = RelayProxy(rng, core, wake, enabled=settings.proxy)
        group_logs = GroupLogService(
            core, wake, log_store or MemoryLogStore(), settings, rng=rng, clock=clock
        )
        group_logs.inner = RoutingRoles(core, proxy, settings.max_cached_auth_keys)
        logs.append(group_logs)
        return group_logs

    queues = QueueStoreWithLogs(store, lambda: logs[0] if logs else None)
    return RelayService(
        queues, settings, identity, clock=clock, rng=rng, metrics=metrics, extension=extensions
    )
