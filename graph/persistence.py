"""Where threads live: each thread's working memory in a checkpointer and its transcript in a
LangGraph store, on SQLite (one file, the default) or Postgres (`postgresql://...`, several app
servers on one database). Checkpoints use LangGraph's strict msgpack serializer; no pickle anywhere.

Why it stays small and fast (the measured numbers are in the README):
- the state holds only the model's bounded view, never the whole transcript;
- the graph runs with `durability="exit"`: one checkpoint per turn, not one per node;
- after each turn the thread is pruned to its newest checkpoint, so checkpoints do not pile up
  (a failed turn is undone first, by discarding what it wrote: `discard_after`);
- every completed turn is appended once to the transcript, as compact JSON.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.store.base import BaseStore
from langgraph.store.sqlite import SqliteStore

from graph.errors import first_line
from graph.transcript import transcript_namespace

DEFAULT_DB = Path("checkpoints") / "memoria.sqlite"
BUSY_TIMEOUT_SECONDS = 30
PAGE_SIZE = 16384
POSTGRES_SCHEMES = ("postgresql", "postgres")
LOCK_TIMEOUT_SECONDS = 120.0


class DatabaseOpenError(RuntimeError):
    """The database cannot be created, opened or read as a Memoria database."""


def resolve_db(db: str | os.PathLike[str] | None = None) -> str:
    """`db`, else `MEMORIA_DB`, else `checkpoints/memoria.sqlite` under the current directory."""
    return os.fspath(db or os.environ.get("MEMORIA_DB") or DEFAULT_DB)


def is_postgres(db: str) -> bool:
    return urlsplit(db).scheme in POSTGRES_SCHEMES


def redact(url: str) -> str:
    """A connection URL fit for messages: the password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def strict_serializer() -> JsonPlusSerializer:
    """Msgpack limited to LangGraph's allow-list of safe types (messages, dates, ...); no pickle."""
    return JsonPlusSerializer(pickle_fallback=False, allowed_msgpack_modules=None)


@dataclass
class Database:
    """A checkpointer, a store and per-thread turn locks over one database."""

    location: str
    checkpointer: BaseCheckpointSaver
    store: BaseStore
    locks: Any
    backend: Any = field(repr=False)

    def thread_ids(self) -> list[str]:
        return self.backend.thread_ids()

    def thread_bytes(self, thread_id: str) -> int:
        return self.backend.thread_bytes(thread_id)

    def reclaim(self) -> None:
        """Give the space of deleted rows back, where the backend can."""
        self.backend.reclaim()

    def turn_committed(self, thread_id: str) -> None:
        """Prune the thread to its newest checkpoint, now that its turn is saved."""
        self.checkpointer.prune([thread_id])
        self.backend.after_prune()


@contextmanager
def open_database(db: str | os.PathLike[str] | None = None) -> Iterator[Database]:
    location = resolve_db(db)
    opener = open_postgres if is_postgres(location) else open_sqlite
    with opener(location) as database:
        yield database


# SQLite


class TurnSqliteSaver(SqliteSaver):
    """`SqliteSaver` plus `prune` (keep the newest checkpoint) and `discard_after`."""

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        if strategy != "keep_latest":
            raise ValueError(f"unknown prune strategy {strategy!r}")
        with self.cursor() as cur:
            for thread_id in thread_ids:
                for table in ("checkpoints", "writes"):
                    cur.execute(
                        f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id < "
                        "(SELECT max(checkpoint_id) FROM checkpoints AS latest "
                        f" WHERE latest.thread_id = ? AND latest.checkpoint_ns = {table}.checkpoint_ns)",
                        (thread_id, thread_id),
                    )

    def discard_after(self, config: RunnableConfig, checkpoint_id: str | None) -> None:
        """Delete the thread's checkpoints newer than `checkpoint_id` (all of them if None)."""
        thread_id = str(config["configurable"]["thread_id"])
        with self.cursor() as cur:
            for table in ("checkpoints", "writes"):
                cur.execute(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id > ?",
                    (thread_id, checkpoint_id or ""),
                )


def _connect(path: Path, *, autocommit: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_SECONDS,
        **({"isolation_level": None} if autocommit else {}),
    )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    # Both only take effect on a new database. A turn is stored as one row of a few KB; 16 KiB pages
    # pack such rows with less slack than the default 4 KiB (measured: 1.44x the raw text after
    # 1,000 turns of 800-character messages, against 1.51x). Incremental auto-vacuum lets `delete`
    # give the space back to the file.
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the database and survives a killed process; only a power
    # cut may lose the last turns. It saves an fsync per transaction.
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class SqliteBackend:
    def __init__(self, saver: TurnSqliteSaver, store: SqliteStore) -> None:
        self.saver = saver
        self.store = store

    def thread_ids(self) -> list[str]:
        with self.saver.cursor(transaction=False) as cur:
            rows = cur.execute(
                "SELECT DISTINCT thread_id FROM checkpoints WHERE checkpoint_ns = ''"
            ).fetchall()
        return [row[0] for row in rows]

    def thread_bytes(self, thread_id: str) -> int:
        with self.saver.cursor(transaction=False) as cur:
            (checkpoints,) = cur.execute(
                "SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0) FROM checkpoints "
                "WHERE thread_id = ?",
                (thread_id,),
            ).fetchone()
        with self.store.lock:
            (transcript,) = self.store.conn.execute(
                "SELECT coalesce(sum(length(value)), 0) FROM store WHERE prefix = ?",
                (".".join(transcript_namespace(thread_id)),),
            ).fetchone()
        return checkpoints + transcript

    def after_prune(self) -> None:
        """SQLite reuses the pruned rows' pages at once."""

    def reclaim(self) -> None:
        with self.saver.cursor(transaction=False):
            # executescript steps the pragma to the end; `execute` would free a single page.
            self.saver.conn.executescript(
                "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);"
            )


@contextmanager
def open_sqlite(location: str) -> Iterator[Database]:
    """Open (creating it owner-only if needed) a SQLite database."""
    path = Path(location).expanduser()
    with ExitStack() as stack:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            locks = FileThreadLocks(path.with_name(path.name + ".turnlock"))
            stack.callback(locks.close)
            saver_conn = stack.enter_context(closing(_connect(path, autocommit=False)))
            store_conn = stack.enter_context(closing(_connect(path, autocommit=True)))
            saver = TurnSqliteSaver(saver_conn, serde=strict_serializer())
            store = SqliteStore(store_conn)
            # The store's migrations read a version, then apply and record the next ones: two
            # processes opening a new database at once would both apply them.
            with locks.setup():
                saver.setup()
                store.setup()
        except (OSError, sqlite3.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise DatabaseOpenError(f"cannot open the database {path}: {reason}") from exc
        yield Database(str(path), saver, store, locks, SqliteBackend(saver, store))


class FileThreadLocks:
    """Serialise the turns of each thread across threads and processes sharing a SQLite file.

    Two processes continuing the same thread at once would both build on the same checkpoint and
    one turn would be lost. Each turn therefore holds an exclusive POSIX byte-range lock on
    `<db>.turnlock`, at an offset derived from the thread id (so different threads do not wait on
    each other), plus an in-process lock, since POSIX locks do not exclude threads of one process.
    The kernel releases the lock when a process dies, even by SIGKILL.
    """

    POLL_SECONDS = 0.02
    SETUP_OFFSET = 2**32
    """Past every thread's offset (a 32-bit hash): the byte that serialises schema setup."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._guard = threading.Lock()
        self._local: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def close(self) -> None:
        os.close(self._fd)

    @contextmanager
    def setup(self) -> Iterator[None]:
        """Exclusive across processes while the tables are created or migrated."""
        fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, self.SETUP_OFFSET)
        try:
            yield
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, self.SETUP_OFFSET)

    @contextmanager
    def hold(self, thread_id: str, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
        with self._guard:
            local = self._local[thread_id]
        if not local.acquire(timeout=timeout):
            raise TimeoutError(f"thread {thread_id!r} is busy with another turn")
        offset = int.from_bytes(hashlib.blake2b(thread_id.encode(), digest_size=4).digest(), "big")
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EACCES, errno.EAGAIN):
                        raise
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"thread {thread_id!r} is busy with a turn in another process"
                        ) from None
                    time.sleep(self.POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, offset)
        finally:
            local.release()


# Postgres


def _postgres_saver_class() -> type:
    from langgraph.checkpoint.postgres import PostgresSaver

    class TurnPostgresSaver(PostgresSaver):
        """`PostgresSaver` plus `discard_after`; `prune` is PostgresSaver's own."""

        def discard_after(self, config: RunnableConfig, checkpoint_id: str | None) -> None:
            thread_id = str(config["configurable"]["thread_id"])
            with self._cursor() as cur, cur.connection.transaction():
                for table in ("checkpoints", "checkpoint_writes"):
                    cur.execute(
                        f"DELETE FROM {table} WHERE thread_id = %s AND checkpoint_id > %s",
                        (thread_id, checkpoint_id or ""),
                    )
                # Channel values no remaining checkpoint refers to.
                cur.execute(
                    "DELETE FROM checkpoint_blobs AS b WHERE b.thread_id = %s AND NOT EXISTS ("
                    " SELECT 1 FROM checkpoints AS c WHERE c.thread_id = b.thread_id"
                    " AND c.checkpoint_ns = b.checkpoint_ns"
                    " AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
                    (thread_id,),
                )

    return TurnPostgresSaver


class PostgresBackend:
    VACUUM_EVERY = 10
    """Turns between two vacuums of the checkpoint tables (see `after_prune`)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._pruned = 0
        self._lock = threading.Lock()

    def after_prune(self) -> None:
        """Vacuum the checkpoint tables every few turns.

        Each turn replaces a thread's checkpoint (a few KB of recent turns), and Postgres only
        reuses the old row's space once VACUUM has seen it. Autovacuum visits at most once a
        minute, so a busy server would let these small tables grow by every turn in between;
        a plain VACUUM of them takes milliseconds and blocks no reader or writer.
        """
        with self._lock:
            self._pruned += 1
            due = self._pruned % self.VACUUM_EVERY == 0
        if due:
            with self.pool.connection() as conn:
                conn.execute(
                    "VACUUM (SKIP_LOCKED) checkpoints, checkpoint_blobs, checkpoint_writes"
                )

    def _one(self, sql: str, params: tuple = ()) -> Any:
        with self.pool.connection() as conn:
            row = conn.execute(sql, params).fetchone()
        return next(iter(row.values())) if isinstance(row, dict) else row[0]

    def thread_ids(self) -> list[str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT thread_id FROM checkpoints WHERE checkpoint_ns = ''"
            ).fetchall()
        return [row["thread_id"] for row in rows]

    def thread_bytes(self, thread_id: str) -> int:
        return int(
            self._one(
                "SELECT (SELECT coalesce(sum(pg_column_size(checkpoint) + pg_column_size(metadata)), 0)"
                "         FROM checkpoints WHERE thread_id = %s)"
                "     + (SELECT coalesce(sum(pg_column_size(blob)), 0)"
                "         FROM checkpoint_blobs WHERE thread_id = %s)"
                "     + (SELECT coalesce(sum(pg_column_size(value)), 0) FROM store WHERE prefix = %s)",
                (thread_id, thread_id, ".".join(transcript_namespace(thread_id))),
            )
        )

    def reclaim(self) -> None:
        """Autovacuum makes deleted rows' space reusable; nothing to do synchronously."""


class AdvisoryThreadLocks:
    """Serialise the turns of each thread across app servers with Postgres advisory locks.

    A session-level lock held on a pooled connection for the length of the turn; Postgres releases
    it if the connection or the process dies.
    """

    def __init__(self, pool: Any) -> None:
        # A pool of its own: a turn holds a lock connection while it reads and writes through the
        # data pool, so sharing one pool could leave every connection waiting for another.
        self.pool = pool

    SETUP_KEY = 0x6D656D6F726961  # "memoria": serialises schema setup across servers

    def setup(self) -> AbstractContextManager[None]:
        """Exclusive across servers while the tables are created or migrated."""
        return self._held(self.SETUP_KEY, LOCK_TIMEOUT_SECONDS)

    def hold(
        self, thread_id: str, timeout: float = LOCK_TIMEOUT_SECONDS
    ) -> AbstractContextManager[None]:
        key = int.from_bytes(
            hashlib.blake2b(thread_id.encode(), digest_size=8).digest(), "big", signed=True
        )
        return self._held(key, timeout)

    @contextmanager
    def _held(self, key: int, timeout: float) -> Iterator[None]:
        # Poll rather than block in pg_advisory_lock: a waiting statement keeps a transaction
        # open, and the setup's CREATE INDEX CONCURRENTLY waits for every open transaction.
        deadline = time.monotonic() + timeout
        with self.pool.connection() as conn:
            while not conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,)).fetchone()[
                "ok"
            ]:
                if time.monotonic() > deadline:
                    raise TimeoutError("another server holds this thread (or the setup) too long")
                time.sleep(FileThreadLocks.POLL_SECONDS)
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


@contextmanager
def open_postgres(url: str) -> Iterator[Database]:
    """Connect a pool to Postgres and set up the checkpointer's and the store's tables."""
    try:
        import psycopg
        from langgraph.store.postgres import PostgresStore
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError as exc:
        raise DatabaseOpenError(
            "Postgres needs langgraph-checkpoint-postgres and psycopg[pool]: "
            "pip install 'memoria[postgres]'"
        ) from exc
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    with ExitStack() as stack:
        try:
            # One direct attempt first: a wrong URL fails now, not after the pool's retries.
            psycopg.connect(url, connect_timeout=10).close()
            pool = ConnectionPool(url, min_size=1, max_size=10, kwargs=kwargs, open=False)
            lock_pool = ConnectionPool(url, min_size=0, max_size=32, kwargs=kwargs, open=False)
            stack.callback(pool.close)
            stack.callback(lock_pool.close)
            pool.open(wait=True, timeout=10)
            lock_pool.open()
            saver = _postgres_saver_class()(pool, serde=strict_serializer())
            store = PostgresStore(pool)
            locks = AdvisoryThreadLocks(lock_pool)
            with locks.setup():  # migrations are not safe to run twice at once
                saver.setup()
                store.setup()
        except Exception as exc:  # psycopg's errors and the pool's timeout
            raise DatabaseOpenError(
                f"cannot open the database {redact(url)}: {first_line(exc)}"
            ) from None
        yield Database(redact(url), saver, store, locks, PostgresBackend(pool))
