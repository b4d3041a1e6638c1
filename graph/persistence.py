"""Where threads live: a SQLite database holding the checkpoints (working memory) and the store
(transcripts), serialised with LangGraph's strict msgpack serializer; no pickle anywhere.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.store.sqlite import SqliteStore

DEFAULT_DB = Path("checkpoints") / "memoria.sqlite"
BUSY_TIMEOUT_SECONDS = 30


def resolve_db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """`db`, else `MEMORIA_DB`, else `checkpoints/memoria.sqlite` under the current directory."""
    return Path(db or os.environ.get("MEMORIA_DB") or DEFAULT_DB).expanduser()


def strict_serializer() -> JsonPlusSerializer:
    """Msgpack limited to LangGraph's allow-list of safe types (messages, dates, ...); no pickle."""
    return JsonPlusSerializer(pickle_fallback=False, allowed_msgpack_modules=None)


def _connect(path: Path, *, autocommit: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_SECONDS,
        **({"isolation_level": None} if autocommit else {}),
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    return conn


@contextmanager
def open_sqlite(
    db: str | os.PathLike[str] | None = None,
) -> Iterator[tuple[SqliteSaver, SqliteStore]]:
    """Open (creating it owner-only if needed) the database; yields its checkpointer and store."""
    path = resolve_db_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    with ExitStack() as stack:
        saver_conn = stack.enter_context(closing(_connect(path, autocommit=False)))
        store_conn = stack.enter_context(closing(_connect(path, autocommit=True)))
        saver = SqliteSaver(saver_conn, serde=strict_serializer())
        store = SqliteStore(store_conn)
        saver.setup()
        store.setup()
        yield saver, store
