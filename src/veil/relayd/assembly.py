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
from veil.relay.server.log_state import LogSettings
from veil.relay.server.log_store import LogStore, MemoryLogStore
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.service import RelayService
from veil.relay.server.settings import RelaySettings
from veil.relay.server.store.base import QueueStore
from veil.routing.destination import RoutingRoles
from veil.routing.destination_guard import DestinationGuard
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
    log_settings: LogSettings | None = None,
) -> RelayService:
    """A relay service over ``store`` that also serves private routing, and group logs
    kept in ``log_store`` (in memory when ``None``: nothing of them survives a restart)
    under ``log_settings`` (the defaults when ``None``)."""
    logs: list[GroupLogService] = []

    def extensions(core: RelayProtocol, wake: Callable[[], None]) -> GroupLogService:
        guard = DestinationGuard.parse(settings.proxy_allow)
        proxy = RelayProxy(rng, core, wake, enabled=settings.proxy, guard=guard)
        group_logs = GroupLogService(
            core,
            wake,
            log_store or MemoryLogStore(),
            settings,
            rng=rng,
            clock=clock,
            log_settings=log_settings,
        )
        group_logs.inner = RoutingRoles(
            core, proxy, settings.max_cached_auth_keys, log_posts=group_logs.handle
        )
        logs.append(group_logs)
        return group_logs

    queues = QueueStoreWithLogs(store, lambda: logs[0] if logs else None)
    return RelayService(
        queues, settings, identity, clock=clock, rng=rng, metrics=metrics, extension=extensions
    )
