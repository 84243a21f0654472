"""A whole store as plain values, for backups: every table's rows at one schema version.

:func:`dump` reads every table of an open store inside one read transaction, so
the snapshot is consistent; :func:`load` writes a snapshot into a fresh store that
was migrated to the snapshot's schema version, then the caller runs the remaining
migrations. Nothing here knows what the tables mean, so tables that other parts of
Veil add by migration are backed up too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from veil.chat.errors import StoreError

__all__ = ["SqlValue", "StoreSnapshot", "TableRows", "dump", "load"]

SqlValue = None | int | float | str | bytes


@dataclass(frozen=True, slots=True)
class TableRows:
    """One table: its name, its column names and its rows (in rowid order)."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[SqlValue, ...], ...]


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """Every table of a store at ``schema_version``."""

    schema_version: int
    tables: tuple[TableRows, ...]


def _quoted(name: str) -> str:
    """A table or column name as an SQL identifier (names come from sqlite_master or
    from a decrypted backup; quoting keeps any of them an identifier)."""
    return '"' + name.replace('"', '""') + '"'


def dump(database: Any) -> StoreSnapshot:
    """Read every table of ``database`` (an autocommit connection) consistently."""
    database.execute("BEGIN")
    try:
        version = int(database.execute("PRAGMA user_version").fetchone()[0])
        names = [
            row[0]
            for row in database.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        tables = []
        for name in names:
            cursor = database.execute(f"SELECT * FROM {_quoted(name)}")  # noqa: S608
            columns = tuple(column[0] for column in cursor.description)
            tables.append(TableRows(name, columns, tuple(tuple(row) for row in cursor)))
    finally:
        database.execute("COMMIT")
    return StoreSnapshot(version, tuple(tables))


def load(database: Any, snapshot: StoreSnapshot) -> None:
    """Replace every row of ``database`` (an autocommit connection whose schema is at
    the snapshot's version) with ``snapshot``'s, in one transaction. Foreign keys are
    checked once at the end, since rows arrive table by table."""
    known = [
        row[0]
        for row in database.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    missing = [table.name for table in snapshot.tables if table.name not in known]
    if missing:
        raise StoreError(f"the backup has tables this schema lacks: {', '.join(missing)}")
    database.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction
    try:
        database.execute("BEGIN IMMEDIATE")
        try:
            _replace_rows(database, known, snapshot.tables)
        except BaseException:
            database.execute("ROLLBACK")
            raise
        database.execute("COMMIT")
    finally:
        database.execute("PRAGMA foreign_keys = ON")


def _replace_rows(database: Any, known: list[str], tables: tuple[TableRows, ...]) -> None:
    for name in known:
        database.execute(f"DELETE FROM {_quoted(name)}")  # noqa: S608
    for table in tables:
        columns = ", ".join(_quoted(column) for column in table.columns)
        marks = ", ".join("?" * len(table.columns))
        sql = f"INSERT INTO {_quoted(table.name)} ({columns}) VALUES ({marks})"  # noqa: S608
        database.executemany(sql, table.rows)
    if database.execute("PRAGMA foreign_key_check").fetchone() is not None:
        raise StoreError("the backup's rows do not refer to each other consistently")
