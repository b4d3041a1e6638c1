"""The thread catalogue: which threads there are, newest first, read with plain SQL.

Listing threads needs neither LangGraph nor LangChain: each thread has a row in `memoria_threads`
(created, last used, title, turn count), ordered by an index, and its size is summed from its
rows. So `memoria threads list` and `chat -c` answer at once however many threads there are, and
import only the database driver. A thread whose first turn never committed (no checkpoint) is
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
from memoria.presets import ANALYSIS_RULES

SCHEMA_VERSION = "2"

"""1: transcripts in LangGraph's store table. 2: Memoria's own tables with a full-text index.
Defined here, where no LangGraph is loaded, so this reader and the backends agree on it."""

SQLITE_LIST = """
SELECT t.thread_id, t.title, t.turns, t.created_at, t.updated_at,
       (SELECT coalesce(sum(length(messages) + coalesce(length(summary), 0)), 0)
          FROM memoria_turns WHERE thread_id = t.thread_id)
     + (SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0)
          FROM checkpoints WHERE thread_id = t.thread_id)
  FROM memoria_threads AS t
 WHERE EXISTS (SELECT 1 FROM checkpoints AS c WHERE c.thread_id = t.thread_id)
   AND NOT EXISTS (SELECT 1 FROM memoria_meta AS m WHERE m.key = 'pending:' || t.thread_id)
   AND (? IS NULL OR t.thread_id = ?)
 ORDER BY t.updated_at DESC, t.thread_id
 LIMIT ?
"""

POSTGRES_LIST = """
SELECT t.thread_id, t.title, t.turns, t.created_at, t.updated_at,
       (SELECT coalesce(sum(pg_column_size(messages) + coalesce(pg_column_size(summary), 0)
                            + pg_column_size(terms)), 0)
          FROM memoria_turns WHERE thread_id = t.thread_id)
     + (SELECT coalesce(sum(pg_column_size(checkpoint) + pg_column_size(metadata)), 0)
          FROM checkpoints WHERE thread_id = t.thread_id)
     + (SELECT coalesce(sum(pg_column_size(blob)), 0)
          FROM checkpoint_blobs WHERE thread_id = t.thread_id)
  FROM memoria_threads AS t
 WHERE EXISTS (SELECT 1 FROM checkpoints AS c WHERE c.thread_id = t.thread_id)
   AND NOT EXISTS (SELECT 1 FROM memoria_meta AS m WHERE m.key = 'pending:' || t.thread_id)
   AND (%s::text IS NULL OR t.thread_id = %s)
 ORDER BY t.updated_at DESC, t.thread_id
 LIMIT %s
"""


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
            created_at=_iso(row[3]),
            updated_at=_iso(row[4]),
            size_bytes=int(row[5]),
        )
        for row in rows
    ]


def _iso(value: Any) -> str:
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
    except errors as exc:
        raise CatalogUnavailable(str(exc)) from exc
    analysis = str(meta.get("analyzer", "")).removeprefix("memoria-analysis-").split("+")[0]
    if meta.get("schema") != SCHEMA_VERSION or analysis != str(ANALYSIS_RULES):
        raise CatalogUnavailable("not this version's schema")  # the full path says why


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
        return infos(
            conn.execute(SQLITE_LIST, (None, None, -1 if limit is None else limit)).fetchall()
        )
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
        return infos(conn.execute(POSTGRES_LIST, (None, None, limit)).fetchall())
