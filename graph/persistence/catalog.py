"""The thread catalogue: which threads there are, newest first, read with plain SQL.

Listing threads needs neither LangGraph nor LangChain: each thread has a row in `memoria_threads`
(created, last used, title, turn count), ordered by an index, and its size is summed from its
rows. So `memoria threads list` and `chat -c` answer at once however many threads there are, and
import only the database driver. The query and the version check are `schema.py`'s, shared with
the full path. A thread whose first turn never committed (no checkpoint) is
not listed.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from memoria.persistence.location import Location
from memoria.persistence.schema import POSTGRES, SCHEMA_VERSION, SQLITE, Flavour, meta_kind

__all__ = [
    "SCHEMA_VERSION",
    "CatalogUnavailable",
    "ThreadInfo",
    "infos",
    "iso",
    "list_threads",
    "sqlite_read_uri",
]


@dataclass(frozen=True)
class ThreadInfo:
    thread_id: str
    title: str
    turns: int
    created_at: str
    updated_at: str
    size_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CatalogUnavailable(Exception):
    """The light reader cannot answer (no Memoria schema of this version): take the full path."""


def infos(rows: list[Any]) -> list[ThreadInfo]:
    return [
        ThreadInfo(
            thread_id=row[0],
            title=row[1],
            turns=int(row[2]),
            created_at=iso(row[3]),
            updated_at=iso(row[4]),
            size_bytes=int(row[5]),
        )
        for row in rows
    ]


def iso(value: Any) -> str:
    """A time as Memoria shows it: SQLite stores the text, Postgres gives a datetime."""
    return value.isoformat(timespec="milliseconds") if isinstance(value, datetime) else str(value)


def list_threads(location: Location, limit: int | None) -> list[ThreadInfo]:
    """The newest `limit` threads (all if None), without LangGraph. An empty list when there is
    no database; CatalogUnavailable when the database needs the full path (an upgrade)."""
    if location.kind == "sqlite":
        return _sqlite(location.target, limit)
    return _postgres(location.target, limit)


def _check_schema(conn: Any, errors: type[Exception]) -> None:
    """CatalogUnavailable unless `conn` holds this version's schema (`errors`: the driver's)."""
    try:
        meta = dict(conn.execute("SELECT key, value FROM memoria_meta").fetchall())
        current = meta_kind(meta) == "memoria"
    except (errors, KeyError, ValueError) as exc:
        raise CatalogUnavailable(str(exc)) from exc
    if not current:
        raise CatalogUnavailable("not this version's schema")  # the full path says why


def _listing(conn: Any, flavour: Flavour, limit: int | None) -> list[ThreadInfo]:
    query = flavour.sql(flavour.listing)
    return infos(conn.execute(query, (None, None, flavour.limit(limit))).fetchall())


def sqlite_read_uri(path: str) -> str:
    """The URI that opens a SQLite file for reading. SQLite reads a database in WAL mode through
    its -shm file, which it makes beside it: where the folder cannot be written (read-only media,
    a read-only mount) and there is no write-ahead log left (the database was closed cleanly),
    `immutable=1` reads the file as it is instead."""
    absolute = os.path.abspath(path)
    uri = f"file:{quote(absolute)}?mode=ro"
    folder_writable = os.access(os.path.dirname(absolute), os.W_OK)
    if not folder_writable and not os.path.exists(absolute + "-wal"):
        uri += "&immutable=1"
    return uri


def _sqlite(target: str, limit: int | None) -> list[ThreadInfo]:
    path = os.path.expanduser(target)
    if not os.path.exists(path):
        return []
    if os.stat(path).st_nlink > 1:
        raise CatalogUnavailable("several hard links")  # the full path explains the refusal
    try:
        conn = sqlite3.connect(sqlite_read_uri(path), uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise CatalogUnavailable(str(exc)) from exc
    try:
        _check_schema(conn, sqlite3.Error)
        return _listing(conn, SQLITE, limit)
    finally:
        conn.close()


def _postgres(target: str, limit: int | None) -> list[ThreadInfo]:
    import psycopg

    try:
        conn = psycopg.connect(target, connect_timeout=10, autocommit=True)
    except psycopg.Error as exc:
        raise CatalogUnavailable(str(exc)) from exc
    with conn:
        _check_schema(conn, psycopg.Error)
        return _listing(conn, POSTGRES, limit)
