"""Operator settings of a relay's file storage (``[files]`` in ``config.toml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veil.relay.server.file_store import DEFAULT_RETENTION_SECONDS

__all__ = ["DEFAULT_FILE_QUOTA", "FILE_KEYS", "FileStoreSettings", "file_settings_from"]

DEFAULT_FILE_QUOTA = 10 * 1024**3
FILE_KEYS = {"enabled", "path", "quota_bytes", "retention_hours"}
_HOUR = 3600


@dataclass(frozen=True, slots=True)
class FileStoreSettings:
    """Where and how much a file relay stores.

    ``path``: the storage folder (relative paths are under the data directory).
    ``quota_bytes``: registered chunks may take this much in all; beyond it ``FNEW``
    is answered ``ERR QUOTA``. ``retention_seconds``: chunks are deleted this long
    after registration (48 hours by default).
    """

    path: Path = Path("files")
    quota_bytes: int = DEFAULT_FILE_QUOTA
    retention_seconds: int = DEFAULT_RETENTION_SECONDS

    def __post_init__(self) -> None:
        if self.quota_bytes < 1:
            raise ValueError("files.quota_bytes must be positive")
        if not _HOUR <= self.retention_seconds <= 30 * 24 * _HOUR:
            raise ValueError("files.retention_hours must be in 1..720")

    def folder(self, data_dir: Path) -> Path:
        """The storage folder, resolved against the relay's data directory."""
        return self.path if self.path.is_absolute() else data_dir / self.path

    def to_table(self) -> dict[str, Any]:
        """The ``[files]`` table of ``config.toml``."""
        return {
            "enabled": True,
            "path": str(self.path),
            "quota_bytes": self.quota_bytes,
            "retention_hours": self.retention_seconds // _HOUR,
        }


def file_settings_from(table: dict[str, Any]) -> FileStoreSettings | None:
    """Read a ``[files]`` table; ``None`` when file storage is off (the default)."""
    enabled = table.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ValueError("files.enabled must be true or false")
    if not enabled:
        return None
    path, quota = table.get("path", "files"), table.get("quota_bytes", DEFAULT_FILE_QUOTA)
    hours = table.get("retention_hours", DEFAULT_RETENTION_SECONDS // _HOUR)
    if not isinstance(path, str) or not path:
        raise ValueError("files.path must be a folder name")
    for name, value in (("quota_bytes", quota), ("retention_hours", hours)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"files.{name} must be an integer")
    return FileStoreSettings(Path(path), quota, hours * _HOUR)
