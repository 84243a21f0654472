"""A relay service with the roles of private routing plugged in.

:class:`veil.relay.server.service.RelayService` serves queues only; the process
adds the proxy and destination roles of :mod:`veil.routing` as its command
extension. Everything that runs a whole relay (``veil-relay start``, the tests'
in-process relays, the benchmarks) builds it here, so they all serve the same
commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from veil.crypto import Ed25519KeyPair, RandomSource
from veil.relay.server.core import RelayProtocol
from veil.relay.server.file_commands import FileCommands
from veil.relay.server.file_settings import FileStoreSettings
from veil.relay.server.file_store import FileChunkStore
from veil.relay.server.file_thread import StoreThread
from veil.relay.server.log_service import GroupLogService, QueueStoreWithLogs
from veil.relay.server.log_state import LogSettings
from veil.relay.server.log_store import LogStore, MemoryLogStore
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.service import CommandExtension, RelayService
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
    files: tuple[Path, FileStoreSettings] | None = None,
    log_settings: LogSettings | None = None,
) -> RelayService:
    """A relay service over ``store`` that also serves private routing, group logs kept
    in ``log_store`` (in memory when ``None``: nothing of them survives a restart) under
    ``log_settings`` (the defaults when ``None``), and files from the folder ``files[0]``
    when ``files`` is given."""
    logs: list[GroupLogService] = []

    def extensions(core: RelayProtocol, wake: Callable[[], None]) -> CommandExtension:
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
        routing = RoutingRoles(
            core, proxy, settings.max_cached_auth_keys, log_posts=group_logs.handle
        )
        group_logs.inner = routing
        logs.append(group_logs)
        if files is None:
            return group_logs
        folder, file_settings = files

        def open_store() -> FileChunkStore:
            return FileChunkStore(
                folder,
                quota_bytes=file_settings.quota_bytes,
                clock=clock,
                rng=rng,
                retention_seconds=file_settings.retention_seconds,
            )

        chunks = StoreThread(open_store, clock)
        password = settings.password_bytes
        serving = FileCommands(core, wake, chunks, rng=rng, password=password, inner=group_logs)
        routing.forwarded_uploads = serving.handle_forwarded
        return serving

    queues = QueueStoreWithLogs(store, lambda: logs[0] if logs else None)
    return RelayService(
        queues, settings, identity, clock=clock, rng=rng, metrics=metrics, extension=extensions
    )
