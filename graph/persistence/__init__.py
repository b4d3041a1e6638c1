"""Where threads live: checkpoints, transcripts and their full-text index, in SQLite (one file, the
default) or Postgres (several app servers on one database). No pickle anywhere: checkpoints use
LangGraph's strict msgpack serializer, transcripts are JSON.

Why it stays small and fast (the measured numbers are in the README):
- the graph state holds only the model's bounded view, never the whole transcript;
- the graph runs with `durability="exit"`: one checkpoint per turn, not one per node;
- after each turn the thread is pruned to its newest checkpoint (a failed turn is undone first,
  by discarding what it wrote: `discard_after`);
- every completed turn is appended once to the transcript, as compact JSON, with its index entry.

One storage design, two backends: `schema.py` (tables, layout detection, named migrations and the
one upgrade routine), `archive.py` (the transcript archive, written once over a dialect),
`base.py` (the `Database` interface and what the checkpointers share); `sqlite.py` and
`postgres.py` hold only what is their own (connections, dialect, checkpointer, locks, upkeep).
`catalog.py` lists threads without loading LangGraph.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from memoria.persistence.location import (
    DEFAULT_DB,
    DatabaseLocationError,
    Location,
    parse_location,
    resolve_db,
)

if TYPE_CHECKING:
    from memoria.persistence.base import (
        DEFAULT_LOCK_TIMEOUT,
        Database,
        DatabaseOpenError,
        NoDatabaseError,
        ThreadArchive,
        ThreadLocks,
        ThreadRecord,
    )

__all__ = [
    "DEFAULT_DB",
    "DEFAULT_LOCK_TIMEOUT",
    "Database",
    "DatabaseLocationError",
    "DatabaseOpenError",
    "Location",
    "NoDatabaseError",
    "ThreadArchive",
    "ThreadLocks",
    "ThreadRecord",
    "open_database",
    "parse_location",
    "resolve_db",
]


def __getattr__(name: str) -> Any:
    # The interface pulls in LangGraph; `--db` parsing and the thread catalogue must not.
    if name in __all__:
        return getattr(importlib.import_module("memoria.persistence.base"), name)
    raise AttributeError(f"module 'memoria.persistence' has no attribute {name!r}")


@contextmanager
def open_database(
    db: str | os.PathLike[str] | None = None, *, read_only: bool = False, init: bool = False
) -> Iterator[Database]:
    """Open the database `db` names (see `parse_location`).

    `read_only`: create nothing and change no schema (a missing database raises NoDatabaseError).
    `init`: allow adding Memoria's tables to a non-empty database that is not Memoria's.
    """
    location = parse_location(db)
    if location.kind == "postgres":
        from memoria.persistence.postgres import open_postgres as opener
    else:
        from memoria.persistence.sqlite import open_sqlite as opener
    with opener(location, read_only=read_only, init=init) as database:
        yield database
