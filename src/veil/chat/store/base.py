"""What every repository shares: typed helpers over one SQLCipher connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlcipher3 import dbapi2 as sqlcipher

from veil.chat.errors import DuplicateRecord, RecordNotFound
from veil.chat.profile import Profile

__all__ = ["Params", "Repository", "Row", "profile_columns", "profile_from"]

Row = tuple[Any, ...]
Params = Sequence[object]


class Repository:
    """Base of the per-table repositories; only ever used inside a store transaction."""

    __slots__ = ("_database",)

    def __init__(self, database: Any) -> None:
        self._database = database

    def _execute(self, sql: str, params: Params = ()) -> Any:
        try:
            return self._database.execute(sql, tuple(params))
        except sqlcipher.IntegrityError as exc:
            raise DuplicateRecord(str(exc)) from exc

    def _changed(self, sql: str, params: Params, what: str) -> None:
        """Run an UPDATE/DELETE that must touch exactly one row."""
        if self._execute(sql, params).rowcount != 1:
            raise RecordNotFound(f"no {what}")

    def _one(self, sql: str, params: Params, what: str) -> Row:
        row = self._execute(sql, params).fetchone()
        if row is None:
            raise RecordNotFound(f"no {what}")
        return tuple(row)

    def _all(self, sql: str, params: Params = ()) -> list[Row]:
        return [tuple(row) for row in self._execute(sql, params).fetchall()]


def profile_columns(profile: Profile) -> tuple[str, str | None, str | None]:
    """The three columns a profile is stored in."""
    return (profile.display_name, profile.full_name, profile.bio)


def profile_from(row: Row) -> Profile:
    """Rebuild a profile from its three columns."""
    display_name, full_name, bio = row
    return Profile(display_name, full_name, bio)
