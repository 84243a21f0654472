"""Operator settings of a relay (loaded from ``config.toml`` by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DAY_SECONDS", "RelaySettings"]

DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """What an operator may tune; the defaults suit a public relay.

    ``password``: when set, ``NEW`` must carry it (a private relay); at most 255
    UTF-8 bytes. ``retention_seconds``: undelivered messages older than this are
    deleted. ``queue_quota``: undelivered messages one queue may hold.
    ``expiry_interval_seconds``: how often the expiry sweep runs.
    ``max_pipelined_blocks``: blocks of one connection whose commands may wait for
    the store at once (back-pressure per connection). ``max_cached_auth_keys``:
    per-connection cache of derived MAC keys (bounds memory per connection).
    ``max_delivery_window``: the most unacknowledged messages one subscription may
    have in flight, whatever window its ``SUB`` asks for.
    ``max_queues_per_connection``: queues one connection may create with ``NEW``
    (an open relay must not let one connection fill its store).
    ``max_connections``: connections served at once; the server closes any beyond
    it at once. ``idle_timeout_seconds``: a connection with no subscription that
    sends nothing for this long is closed (clients ping to stay connected).
    ``proxy``: act as a private-routing proxy for clients (``PRXY``/``PFWD``);
    when off, those commands are answered ``ERR 482``. Forwarded commands from
    other proxies (``RFWD``) are always accepted. ``proxy_allow``: networks (CIDR)
    the proxy may connect to although they are not globally routable (loopback,
    private, link-local); by default it connects to public addresses only.
    """

    retention_seconds: float = 21 * DAY_SECONDS
    queue_quota: int = 128
    password: str | None = None
    proxy_allow: tuple[str, ...] = ()
    expiry_interval_seconds: float = 3_600.0
    max_pipelined_blocks: int = 16
    max_cached_auth_keys: int = 10_000
    max_delivery_window: int = 64
    max_queues_per_connection: int = 1_000
    max_connections: int = 10_000
    idle_timeout_seconds: float = 600.0
    proxy: bool = True

    def __post_init__(self) -> None:
        if self.retention_seconds <= 0:
            raise ValueError("retention_seconds must be positive")
        if not 1 <= self.queue_quota <= 1_000_000:
            raise ValueError("queue_quota must be in 1..1000000")
        if self.password is not None and not 0 < len(self.password.encode()) <= 255:
            raise ValueError("password must be 1..255 UTF-8 bytes")
        if self.expiry_interval_seconds <= 0:
            raise ValueError("expiry_interval_seconds must be positive")
        if self.max_pipelined_blocks < 1 or self.max_cached_auth_keys < 1:
            raise ValueError("pipelining and cache limits must be at least 1")
        if not 1 <= self.max_delivery_window <= 255:
            raise ValueError("max_delivery_window must be in 1..255")
        if self.max_queues_per_connection < 1 or self.max_connections < 1:
            raise ValueError("queue and connection limits must be at least 1")
        if self.idle_timeout_seconds <= 0:
            raise ValueError("idle_timeout_seconds must be positive")

    @property
    def password_bytes(self) -> bytes | None:
        """The password as it travels in ``NEW``, or ``None`` for an open relay."""
        return None if self.password is None else self.password.encode()
