"""The ``[logs]`` table of the relay's ``config.toml``: the group-log settings.

``[logs]`` holds ``retention_days``, ``quota`` (entries one log may hold) and
``max_members`` (readers plus writers of one log); every key is optional and
defaults to :class:`~veil.relay.server.log_state.LogSettings`'.
"""

from __future__ import annotations

from typing import Any

from veil.relay.server.log_state import LogSettings
from veil.relay.server.settings import DAY_SECONDS

__all__ = ["LOGS_KEYS", "log_settings_from", "logs_table"]

LOGS_KEYS = {"retention_days", "quota", "max_members"}
"""The keys ``[logs]`` may hold."""


def logs_table(settings: LogSettings) -> dict[str, Any]:
    """``settings`` as the ``[logs]`` table."""
    return {
        "retention_days": settings.retention_seconds / DAY_SECONDS,
        "quota": settings.log_quota,
        "max_members": settings.max_log_members,
    }


def log_settings_from(table: dict[str, Any]) -> LogSettings:
    """The settings a ``[logs]`` table gives; :class:`ValueError` naming a bad key."""
    defaults = LogSettings()
    retention = table.get("retention_days", defaults.retention_seconds / DAY_SECONDS)
    if not isinstance(retention, int | float) or isinstance(retention, bool) or retention <= 0:
        raise ValueError("logs.retention_days must be a positive number")
    quota = _count(table.get("quota", defaults.log_quota), "logs.quota")
    members = _count(table.get("max_members", defaults.max_log_members), "logs.max_members")
    return LogSettings(
        log_quota=quota, max_log_members=members, retention_seconds=retention * DAY_SECONDS
    )


def _count(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000_000:
        raise ValueError(f"{name} must be an integer in 1..1000000")
    return value
