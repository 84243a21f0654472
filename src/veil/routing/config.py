"""The routing policy as a plain, versioned mapping (for TOML or JSON), and back.

Layout (version 1), as it reads in TOML::

    version = 1
    mode = "unknown-relays"          # always | unknown-relays | never

    [socks]                          # optional
    host = "127.0.0.1"
    port = 9050
    isolate = true

    [[relays]]
    address = "veil://<fingerprint>@relay.example"
    operator = "Example Org"
    own = true
    receive = true
    proxy = true
    # password = "..."       a private relay's password (for creating queues there)

Reading is strict: unknown keys, wrong types, an unknown version or an invalid
address raise :class:`InvalidRoutingConfig`, so a typo never silently changes
how messages are routed. Later versions add an upgrade step from each older one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import InvalidAddress
from veil.routing.errors import InvalidRoutingConfig
from veil.routing.policy import RelayEntry, RoutingMode, RoutingPolicy, SocksSettings

__all__ = ["CONFIG_VERSION", "MAX_RELAYS", "policy_from_dict", "policy_to_dict"]

CONFIG_VERSION = 1
MAX_RELAYS = 1024
_TOP_KEYS = {"version", "mode", "socks", "relays"}
_SOCKS_KEYS = {"host", "port", "isolate"}
_RELAY_KEYS = {"address", "operator", "own", "receive", "proxy", "password"}
_MAX_TEXT = 2048


def policy_to_dict(policy: RoutingPolicy) -> dict[str, Any]:
    """Return the versioned mapping of ``policy`` (only TOML-friendly values)."""
    data: dict[str, Any] = {"version": CONFIG_VERSION, "mode": str(policy.mode)}
    if policy.socks is not None:
        data["socks"] = {
            "host": policy.socks.host,
            "port": policy.socks.port,
            "isolate": policy.socks.isolate,
        }
    data["relays"] = [_relay_dict(relay) for relay in policy.relays]
    return data


def _relay_dict(relay: RelayEntry) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "address": str(relay.address),
        "operator": relay.operator,
        "own": relay.own,
        "receive": relay.receive,
        "proxy": relay.proxy,
    }
    if relay.password is not None:
        entry["password"] = relay.password
    return entry


def policy_from_dict(data: Mapping[str, Any]) -> RoutingPolicy:
    """Read a mapping written by :func:`policy_to_dict`; :class:`InvalidRoutingConfig` if bad."""
    _check_keys("routing configuration", data, required={"version"}, allowed=_TOP_KEYS)
    version = data["version"]
    if type(version) is not int or version != CONFIG_VERSION:
        raise InvalidRoutingConfig(
            f"routing configuration version {version!r} is not supported "
            f"(this Veil reads version {CONFIG_VERSION})"
        )
    mode_text = _text(data, "mode", default=str(RoutingMode.UNKNOWN_RELAYS))
    try:
        mode = RoutingMode(mode_text)
    except ValueError:
        choices = ", ".join(m.value for m in RoutingMode)
        raise InvalidRoutingConfig(f"mode must be one of {choices}") from None
    socks = data.get("socks")
    relays = data.get("relays", [])
    if not isinstance(relays, list) or len(relays) > MAX_RELAYS:
        raise InvalidRoutingConfig(f"relays must be a list of at most {MAX_RELAYS} tables")
    try:
        return RoutingPolicy(
            relays=tuple(_relay(entry) for entry in relays),
            mode=mode,
            socks=None if socks is None else _socks(socks),
        )
    except ValueError as exc:
        raise InvalidRoutingConfig(str(exc)) from exc


def _relay(entry: object) -> RelayEntry:
    if not isinstance(entry, Mapping):
        raise InvalidRoutingConfig("each relay is a table")
    _check_keys("relay", entry, required={"address", "operator"}, allowed=_RELAY_KEYS)
    try:
        address = RelayAddress.parse(_text(entry, "address"))
    except InvalidAddress as exc:
        raise InvalidRoutingConfig(f"relay address: {exc}") from exc
    return RelayEntry(
        address=address,
        operator=_text(entry, "operator"),
        own=_flag(entry, "own"),
        receive=_flag(entry, "receive"),
        proxy=_flag(entry, "proxy"),
        password=_text(entry, "password") if "password" in entry else None,
    )


def _socks(entry: object) -> SocksSettings:
    if not isinstance(entry, Mapping):
        raise InvalidRoutingConfig("socks is a table")
    _check_keys("socks", entry, required={"host", "port"}, allowed=_SOCKS_KEYS)
    port = entry["port"]
    if type(port) is not int:
        raise InvalidRoutingConfig("socks port must be an integer")
    return SocksSettings(_text(entry, "host"), port, _flag(entry, "isolate"))


def _check_keys(
    what: str, entry: Mapping[str, Any], *, required: set[str], allowed: set[str]
) -> None:
    keys = set(entry)
    if unknown := keys - allowed:
        raise InvalidRoutingConfig(f"{what} has unknown keys: {', '.join(sorted(unknown))}")
    if missing := required - keys:
        raise InvalidRoutingConfig(f"{what} lacks keys: {', '.join(sorted(missing))}")


def _text(entry: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise InvalidRoutingConfig(f"{key} must be a string of at most {_MAX_TEXT} characters")
    return value


def _flag(entry: Mapping[str, Any], key: str) -> bool:
    # Every flag defaults to true: a relay someone adds is meant to be used.
    value = entry.get(key, True)
    if not isinstance(value, bool):
        raise InvalidRoutingConfig(f"{key} must be true or false")
    return value
