"""The relay's data directory and its ``config.toml``.

A data directory holds everything one relay needs and nothing else::

    config.toml      operator settings (this module), mode 0600: it may hold a password
    identity.key     identity private key (see veil.relay.transport.identity), mode 0600
    identity.crt     self-signed certificate carrying the identity key, mode 0600
    relay.journal/   the queue store: journal segments (store = "journal", the default)
    relay.db*        the queue store when store = "sqlite" (SQLite and its WAL files)
    logs.db*         the group logs (SQLite and its WAL files)

Back up the whole directory while the relay is stopped. Losing ``identity.key``
changes the relay's fingerprint, which breaks every address that pointed at it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from veil.relay.protocol.address import DEFAULT_PORT, MAX_HOSTS, RelayAddress, normalise_host
from veil.relay.protocol.errors import InvalidAddress, InvalidRelayConfig
from veil.relay.server.file_settings import FILE_KEYS, FileStoreSettings, file_settings_from
from veil.relay.server.log_config import LOGS_KEYS, log_settings_from, logs_table
from veil.relay.server.log_state import LogSettings
from veil.relay.server.settings import DAY_SECONDS, RelaySettings

__all__ = [
    "CONFIG_FILE",
    "CONFIG_FORMAT_VERSION",
    "JOURNAL_DIR",
    "LOG_LEVELS",
    "STORE_ENGINES",
    "STORE_FILE",
    "RelayConfig",
    "create_data_dir",
]

CONFIG_FILE = "config.toml"
STORE_FILE = "relay.db"
JOURNAL_DIR = "relay.journal"
STORE_ENGINES = ("journal", "sqlite")
CONFIG_FORMAT_VERSION = 1
LOG_LEVELS = ("debug", "info", "warning", "error")
_DIRECTORY_MODE = 0o700
_FILE_MODE = 0o600

_HEADER = """\
# veil-relay configuration. Restart the relay after editing.
#
# store                        "journal" (append-only, checksummed; the default) or
#                              "sqlite"; a file without it is an older relay's: sqlite.
#                              Changing it does not move existing data.
# [listen]   host, port        where the relay accepts TLS connections
#                              ("0.0.0.0" = every IPv4 interface, "::" = every IPv6 one)
# [address]  hosts             names clients use to reach this relay; they appear in
#                              the relay address, so change them before sharing it
# [queues]   retention_days    undelivered messages older than this are deleted
#            quota             undelivered messages one queue may hold
#            password          (optional) makes a private relay: creating a queue
#                              requires it; sending to existing queues does not
#            max_per_connection  queues one connection may create (NEW)
# [connections] max            connections served at once; more are closed at once
#            idle_timeout_seconds  a connection with no subscription that sends
#                              nothing for this long is closed (clients ping)
# [routing]  proxy             act as a private-routing proxy for clients (true/false)
#            proxy_allow       networks the proxy may reach although they are private or
#                              loopback (default none: public addresses only)
# [files]    enabled           serve files (chunks of encrypted files) as well as queues
#            path              storage folder (relative: under this data directory)
#            quota_bytes       registered chunks may take this much in all
#            retention_hours   chunks are deleted this long after upload (default 48)
# [logs]     retention_days    group-log entries older than this are deleted
#            quota             entries one group log may hold
#            max_members       readers plus writers of one group log
# [metrics]  port              (optional) Prometheus metrics on 127.0.0.1:port
# [log]      level             debug, info, warning or error (logs go to stderr)
"""


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """Everything ``veil-relay start`` reads from ``config.toml``."""

    public_hosts: tuple[str, ...]
    listen_host: str = "0.0.0.0"  # noqa: S104 - a relay is meant to be reachable
    port: int = DEFAULT_PORT
    settings: RelaySettings = field(default_factory=RelaySettings)
    metrics_port: int | None = None
    log_level: str = "info"
    files: FileStoreSettings | None = None
    store: str = "journal"
    logs: LogSettings = field(default_factory=LogSettings)

    def __post_init__(self) -> None:
        if not 1 <= len(self.public_hosts) <= MAX_HOSTS:
            raise InvalidRelayConfig(f"address.hosts must list 1 to {MAX_HOSTS} host names")
        try:
            normalised = [normalise_host(host) for host in self.public_hosts]
        except InvalidAddress as exc:
            raise InvalidRelayConfig(f"address.hosts: {exc}") from exc
        if normalised != list(self.public_hosts) or len(set(normalised)) != len(normalised):
            raise InvalidRelayConfig("address.hosts must be distinct, normalised host names")
        if not 1 <= self.port <= 0xFFFF:
            raise InvalidRelayConfig("listen.port must be in 1..65535")
        if self.metrics_port is not None and not 1 <= self.metrics_port <= 0xFFFF:
            raise InvalidRelayConfig("metrics.port must be in 1..65535")
        if self.store not in STORE_ENGINES:
            raise InvalidRelayConfig(f"store must be one of {', '.join(STORE_ENGINES)}")
        if self.log_level not in LOG_LEVELS:
            raise InvalidRelayConfig(f"log.level must be one of {', '.join(LOG_LEVELS)}")

    def address(self, fingerprint: str) -> RelayAddress:
        """The address clients use: the public hosts with the listening port."""
        return RelayAddress(fingerprint, self.public_hosts, self.port)

    def to_toml(self) -> str:
        """Render the configuration as commented TOML."""
        document: dict[str, Any] = {
            "format_version": CONFIG_FORMAT_VERSION,
            "store": self.store,
            "listen": {"host": self.listen_host, "port": self.port},
            "address": {"hosts": list(self.public_hosts)},
            "queues": _queues_table(self.settings),
            "connections": {
                "max": self.settings.max_connections,
                "idle_timeout_seconds": self.settings.idle_timeout_seconds,
            },
            "routing": {
                "proxy": self.settings.proxy,
                "proxy_allow": list(self.settings.proxy_allow),
            },
            "logs": logs_table(self.logs),
            "log": {"level": self.log_level},
        }
        if self.metrics_port is not None:
            document["metrics"] = {"port": self.metrics_port}
        if self.files is not None:
            document["files"] = self.files.to_table()
        return _HEADER + "\n" + tomli_w.dumps(document)

    def save(self, data_dir: Path) -> None:
        """Write ``config.toml`` into ``data_dir`` (owner-only: it may hold a password)."""
        path = data_dir / CONFIG_FILE
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(self.to_toml())

    @classmethod
    def load(cls, data_dir: Path) -> RelayConfig:
        """Read ``config.toml``; :class:`InvalidRelayConfig` names any problem precisely."""
        path = data_dir / CONFIG_FILE
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise InvalidRelayConfig(f"{path} not found: run 'veil-relay init' first") from exc
        except tomllib.TOMLDecodeError as exc:
            raise InvalidRelayConfig(f"{path}: {exc}") from exc
        try:
            return _from_document(document)
        except InvalidRelayConfig:
            raise
        except KeyError as exc:
            raise InvalidRelayConfig(f"{path}: missing {exc.args[0]!r}") from exc
        except (TypeError, ValueError, InvalidAddress) as exc:
            raise InvalidRelayConfig(f"{path}: {exc}") from exc


def create_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` (owner-only) if needed; refuse one that already holds a relay."""
    data_dir.mkdir(mode=_DIRECTORY_MODE, parents=True, exist_ok=True)
    if (data_dir / CONFIG_FILE).exists():
        raise InvalidRelayConfig(f"{data_dir} already holds a relay ({CONFIG_FILE} exists)")


def _queues_table(settings: RelaySettings) -> dict[str, Any]:
    table: dict[str, Any] = {
        "retention_days": settings.retention_seconds / DAY_SECONDS,
        "quota": settings.queue_quota,
        "max_per_connection": settings.max_queues_per_connection,
    }
    if settings.password is not None:
        table["password"] = settings.password
    return table


_KNOWN_KEYS: dict[str, set[str]] = {
    "listen": {"host", "port"},
    "address": {"hosts"},
    "queues": {"retention_days", "quota", "password", "max_per_connection"},
    "connections": {"max", "idle_timeout_seconds"},
    "routing": {"proxy", "proxy_allow"},
    "metrics": {"port"},
    "files": FILE_KEYS,
    "logs": LOGS_KEYS,
    "log": {"level"},
}


def _check_keys(document: dict[str, Any]) -> None:
    unknown = set(document) - set(_KNOWN_KEYS) - {"format_version", "store"}
    if unknown:
        raise ValueError(f"unknown table(s): {', '.join(sorted(unknown))}")
    for table, keys in _KNOWN_KEYS.items():
        extra = set(document.get(table, {})) - keys
        if extra:
            raise ValueError(f"unknown key(s) in [{table}]: {', '.join(sorted(extra))}")


def _from_document(document: dict[str, Any]) -> RelayConfig:
    if document.get("format_version") != CONFIG_FORMAT_VERSION:
        raise ValueError(f"format_version must be {CONFIG_FORMAT_VERSION}")
    _check_keys(document)
    listen = document.get("listen", {})
    metrics_port = document.get("metrics", {}).get("port")
    hosts = document["address"]["hosts"]
    if not isinstance(hosts, list) or not all(isinstance(host, str) for host in hosts):
        raise ValueError("address.hosts must be a list of host names")
    return RelayConfig(
        public_hosts=tuple(normalise_host(host) for host in hosts),
        listen_host=str(listen.get("host", "0.0.0.0")),  # noqa: S104
        port=_integer(listen.get("port", DEFAULT_PORT), "listen.port"),
        settings=_settings_from(document),
        metrics_port=None if metrics_port is None else _integer(metrics_port, "metrics.port"),
        log_level=str(document.get("log", {}).get("level", "info")),
        files=file_settings_from(document.get("files", {})),
        # Written by every relay since the journal came; absent, the data is in SQLite.
        store=str(document.get("store", "sqlite")),
        logs=log_settings_from(document.get("logs", {})),
    )


def _settings_from(document: dict[str, Any]) -> RelaySettings:
    queues, connections = document.get("queues", {}), document.get("connections", {})
    proxy = document.get("routing", {}).get("proxy", True)
    if not isinstance(proxy, bool):
        raise ValueError("routing.proxy must be true or false")
    defaults = RelaySettings()
    allow = document.get("routing", {}).get("proxy_allow", [])
    if not isinstance(allow, list) or not all(isinstance(item, str) for item in allow):
        raise ValueError('routing.proxy_allow must be a list of networks, e.g. ["10.0.0.0/8"]')
    return RelaySettings(
        proxy=proxy,
        proxy_allow=tuple(allow),
        retention_seconds=float(queues.get("retention_days", 21)) * DAY_SECONDS,
        queue_quota=_integer(queues.get("quota", defaults.queue_quota), "queues.quota"),
        password=_optional_string(queues.get("password"), "queues.password"),
        max_queues_per_connection=_integer(
            queues.get("max_per_connection", defaults.max_queues_per_connection),
            "queues.max_per_connection",
        ),
        max_connections=_integer(
            connections.get("max", defaults.max_connections), "connections.max"
        ),
        idle_timeout_seconds=float(
            connections.get("idle_timeout_seconds", defaults.idle_timeout_seconds)
        ),
    )


def _optional_string(value: object, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _integer(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    return value
