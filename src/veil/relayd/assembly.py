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
from veil.relay.server.metrics import RelayMetrics
from veil.relay.server.service import CommandExtension, RelayService
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
    files: tuple[Path, FileStoreSettings] | None = None,
) -> RelayService:
    """A relay service over ``store`` that also serves private routing, and files
    from the folder ``files[0]`` when ``files`` is given."""

    def extensions(core: RelayProtocol, wake: Callable[[], None]) -> CommandExtension:
        proxy = RelayProxy(rng, core, wake, enabled=settings.proxy)
        routing = RoutingRoles(core, proxy, settings.max_cached_auth_keys)
        if files is None:
            return routing
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
        serving = FileCommands(core, wake, chunks, rng=rng, password=password, inner=routing)
        routing.forwarded_uploads = serving.handle_forwarded
        return serving

    return RelayService(
        store, settings, identity, clock=clock, rng=rng, metrics=metrics, extension=extensions
    )
