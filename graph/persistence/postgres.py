"""Postgres: LangGraph's `PostgresSaver` tables for checkpoints, Memoria's tables for transcripts,
with Postgres full-text search (a `tsvector` column with a GIN index, ranked by `ts_rank_cd`).

What is Postgres's own here: connection pools, the checkpointer, advisory locks that serialise the
turns of a thread across servers, vacuuming after turns, and the archive's dialect. Memoria's
tables mirror the SQLite ones (the schema and its upgrades are `schema.py`'s); a turn's row
carries its own `tsvector`, so the transcript and its index are one row, written in one statement.
Text is analysed in Python (the same terms as on SQLite) and indexed with the `simple`
configuration, which only lower-cases. Messages are stored as ASCII JSON text, which escapes NUL
characters (Postgres text cannot hold them), so a thread holding NULs migrates losslessly.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from psycopg.rows import tuple_row

from memoria.analysis import ANALYZER_VERSION
from memoria.errors import busy_thread, first_line
from memoria.persistence import schema
from memoria.persistence.archive import TURN_COLUMNS, Cursor, Dialect, ThreadArchive
from memoria.persistence.base import (
    AsyncOnThreads,
    Database,
    DatabaseOpenError,
    FencedWrites,
    NoDatabaseError,
    strict_serializer,
)
from memoria.persistence.catalog import iso
from memoria.persistence.location import Location
from memoria.persistence.waiting import wait_for
from memoria.transcript import SearchHit, decode_messages, index_terms

STATISTICS_SECONDS = 60.0
"""How long the term statistics (pg_stats) are reused before they are read again."""
SETUP_LOCK_KEY = 0x6D656D6F726961  # "memoria": serialises schema setup across servers
SCHEMA = [
    "CREATE TABLE memoria_meta (key text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE memoria_threads (
        thread_id text PRIMARY KEY,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        title text NOT NULL DEFAULT '',
        language text NOT NULL DEFAULT '',
        turns integer NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX memoria_threads_by_update ON memoria_threads (updated_at)",
    """CREATE TABLE memoria_turns (
        thread_id text NOT NULL,
        turn integer NOT NULL,
        language text NOT NULL,
        created_at timestamptz NOT NULL,
        messages text NOT NULL,
        summary bytea,
        folded integer NOT NULL DEFAULT 0,
        terms tsvector NOT NULL,
        PRIMARY KEY (thread_id, turn)
    )""",
    "CREATE INDEX memoria_turns_terms ON memoria_turns USING GIN (terms)",
]
"""Memoria's tables, as migration 0001 creates them."""


def _saver_class() -> type:
    from langgraph.checkpoint.postgres import PostgresSaver

    class MemoriaPostgresSaver(FencedWrites, AsyncOnThreads, PostgresSaver):
        """`PostgresSaver` plus `discard_after`, `copy_thread`, `delete_for_runs`, and async
        methods that run the sync ones in a worker thread. `prune` is PostgresSaver's own."""

        def discard_after(self, config: RunnableConfig, checkpoint_id: str | None) -> None:
            thread_id = str(config["configurable"]["thread_id"])
            with self._pooled() as conn, conn.transaction():
                for table in ("checkpoints", "checkpoint_writes"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE thread_id = %s AND checkpoint_id > %s",
                        (thread_id, checkpoint_id or ""),
                    )
                _drop_unreferenced_blobs(conn, [thread_id])

        def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
            source, target = str(source_thread_id), str(target_thread_id)
            with self._pooled() as conn, conn.transaction():
                conn.execute(
                    "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
                    "parent_checkpoint_id, type, checkpoint, metadata) SELECT %s, checkpoint_ns, "
                    "checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
                    "FROM checkpoints WHERE thread_id = %s ON CONFLICT DO NOTHING",
                    (target, source),
                )
                conn.execute(
                    "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, "
                    "type, blob) SELECT %s, checkpoint_ns, channel, version, type, blob "
                    "FROM checkpoint_blobs WHERE thread_id = %s ON CONFLICT DO NOTHING",
                    (target, source),
                )
                conn.execute(
                    "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, "
                    "task_id, task_path, idx, channel, type, blob) SELECT %s, checkpoint_ns, "
                    "checkpoint_id, task_id, task_path, idx, channel, type, blob "
                    "FROM checkpoint_writes WHERE thread_id = %s ON CONFLICT DO NOTHING",
                    (target, source),
                )

        def delete_for_runs(self, run_ids: Sequence[str]) -> None:
            run_ids = [str(run_id) for run_id in run_ids]
            if not run_ids:
                return
            with self._pooled() as conn, conn.transaction():
                doomed = conn.execute(
                    "DELETE FROM checkpoints WHERE metadata ->> 'run_id' = ANY(%s) "
                    "RETURNING thread_id, checkpoint_ns, checkpoint_id",
                    (run_ids,),
                ).fetchall()
                for row in doomed:
                    conn.execute(
                        "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s"
                        " AND checkpoint_id = %s",
                        (row["thread_id"], row["checkpoint_ns"], row["checkpoint_id"]),
                    )
                threads = sorted({row["thread_id"] for row in doomed})
                for thread_id in threads:
                    conn.execute(schema.POSTGRES.sql(schema.FORGET_MISSING_PARENTS), (thread_id,))
                _drop_unreferenced_blobs(conn, threads)

        @contextmanager
        def _pooled(self) -> Iterator[Any]:
            pool: Any = self.conn  # Memoria always gives its saver a ConnectionPool
            with self.lock, pool.connection() as conn:
                yield conn

    return MemoriaPostgresSaver


def _drop_unreferenced_blobs(conn: Any, thread_ids: Sequence[str]) -> None:
    """Channel values that no remaining checkpoint of the thread refers to."""
    for thread_id in thread_ids:
        conn.execute(
            "DELETE FROM checkpoint_blobs AS b WHERE b.thread_id = %s AND NOT EXISTS ("
            " SELECT 1 FROM checkpoints AS c WHERE c.thread_id = b.thread_id"
            " AND c.checkpoint_ns = b.checkpoint_ns"
            " AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
            (thread_id,),
        )


def tsquery(terms: Sequence[str]) -> str:
    """A tsquery matching any of `terms` (analysed terms: letters and digits only)."""
    return " | ".join(f"'{term}'" for term in terms)


class PgCursor:
    """A psycopg cursor giving tuples and taking the archive's `?` parameters."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        # Always with parameters (even none): psycopg then reads `%%` as `%`.
        self.raw.execute(schema.POSTGRES.sql(sql), params)
        return self

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        self.raw.executemany(schema.POSTGRES.sql(sql), params)

    def fetchone(self) -> Any:
        return self.raw.fetchone()

    def fetchall(self) -> list[Any]:
        return self.raw.fetchall()


class PostgresDialect(Dialect):
    """The archive through a connection pool; the index is each row's `terms` tsvector."""

    flavour = schema.POSTGRES
    ascii_json = True
    copied_columns = ("terms",)

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._stats: tuple[float, dict[str, float], int] | None = None

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with (
            self.pool.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=tuple_row) as cur,
        ):
            yield PgCursor(cur)

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            return PgCursor(cur).execute(sql, params).fetchall()

    def close(self) -> None:
        """The pool is closed by whoever opened it."""

    def turns_changing(self, cur: Cursor, thread_id: str, turns: int) -> None:
        """No running total: `pg_stats` counts the turns."""

    def clean(self, text: str) -> str:
        """Postgres text cannot hold NUL; derived text (titles) simply loses it."""
        return text.replace("\x00", "")

    # Schema

    def table_names(self) -> set[str]:
        rows = self.read("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {row[0] for row in rows}

    def prepare_empty(self) -> None:
        """Nothing to set on a new database."""

    def create_tables(self, cur: Cursor, existing: set[str]) -> None:
        if "checkpoint_migrations" not in existing:
            # LangGraph's checkpoint migrations, run inside our transaction on a new database.
            # Index creation there needs no CONCURRENTLY (the tables are new and empty), and
            # recording each version lets `PostgresSaver.setup` find nothing left to do. Run raw:
            # they are LangGraph's SQL, with `?` operators of their own.
            from langgraph.checkpoint.postgres import PostgresSaver

            raw = cur.raw  # type: ignore[attr-defined]
            for version, migration in enumerate(PostgresSaver.MIGRATIONS):
                raw.execute(migration.replace("CONCURRENTLY ", ""))
                if version > 0:
                    cur.execute("INSERT INTO checkpoint_migrations (v) VALUES (?)", (version,))
            cur.execute("INSERT INTO checkpoint_migrations (v) VALUES (0) ON CONFLICT DO NOTHING")
        for statement in SCHEMA:
            cur.execute(statement)

    def clashing_table(self, tables: set[str]) -> str | None:
        clash = sorted((self.flavour.own | set(self.flavour.saver)) & tables)
        return clash[0] if clash else None

    def rebuild_index(self, cur: Cursor) -> None:
        rows = cur.execute(
            "SELECT thread_id, turn, language, messages FROM memoria_turns"
        ).fetchall()
        for thread_id, turn, language, raw in rows:
            cur.execute(
                "UPDATE memoria_turns SET terms = to_tsvector('simple', ?) "
                "WHERE thread_id = ? AND turn = ?",
                (index_terms(decode_messages(raw), language), thread_id, turn),
            )

    # The index: the row's own tsvector

    def insert_turn(self, cur: Cursor, row: Sequence[Any], terms: str) -> None:
        cur.execute(
            f"INSERT INTO memoria_turns ({TURN_COLUMNS}, terms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, to_tsvector('simple', ?))",
            (*row, terms),
        )

    def unindex(self, cur: Cursor, thread_id: str, from_turn: int) -> None:
        """Nothing apart: deleting the rows deletes their index entries."""

    def index_copied(self, cur: Cursor, thread_id: str) -> None:
        """Nothing: the copied rows took their `terms` along."""

    def retag(self, cur: Cursor, old: str, new: str) -> None:
        """Nothing: the index does not name the thread."""

    def match_thread(
        self, thread_id: str, terms: Sequence[str], *, before: int, limit: int
    ) -> list[SearchHit]:
        rows = self.read(
            "SELECT thread_id, turn, ts_rank_cd(terms, q, 1) AS score, created_at, messages "
            "FROM memoria_turns, to_tsquery('simple', ?) AS q "
            "WHERE thread_id = ? AND turn < ? AND terms @@ q "
            "ORDER BY score DESC, turn DESC LIMIT ?",
            (tsquery(terms), thread_id, before, limit),
        )
        return [_hit(row) for row in rows]

    def match_all(
        self, terms: Sequence[str], *, language: str, thread_id: str | None, limit: int
    ) -> list[SearchHit]:
        rows = self.read(
            "SELECT thread_id, turn, ts_rank_cd(terms, q, 1) AS score, created_at, messages "
            "FROM memoria_turns, to_tsquery('simple', ?) AS q WHERE terms @@ q "
            "AND language = ? AND (CAST(? AS TEXT) IS NULL OR thread_id = ?) "
            "ORDER BY score DESC LIMIT ?",
            (tsquery(terms), language, thread_id, thread_id, limit),
        )
        return [_hit(row) for row in rows]

    def term_frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many turns hold each term, and how many turns there are, over the whole database,
        from the statistics Postgres keeps on the `terms` column (`pg_stats`: its most common
        elements and their frequencies, refreshed by ANALYZE): no scan per term, so a turn's cost
        does not grow with the archive. Terms too rare to be among them count as 0."""
        frequencies, total = self._statistics()
        return {term: round(frequencies.get(term, 0.0) * total) for term in terms}, total

    def forget_statistics(self) -> None:
        self._stats = None

    def _statistics(self) -> tuple[dict[str, float], int]:
        now = time.monotonic()
        if self._stats is not None and now - self._stats[0] < STATISTICS_SECONDS:
            return self._stats[1], self._stats[2]
        rows = self.read(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs, "
            "(SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'memoria_turns'"
            "::regclass) FROM pg_stats WHERE schemaname = current_schema() "
            "AND tablename = 'memoria_turns' AND attname = 'terms'"
        )
        frequencies: dict[str, float] = {}
        total = 0
        if rows and rows[0][0]:
            frequencies = dict(zip(rows[0][0], rows[0][1], strict=False))
            total = int(rows[0][2])
        self._stats = (now, frequencies, total)
        return frequencies, total


def _hit(row: Sequence[Any]) -> SearchHit:
    thread_id, turn, score, created_at, raw = row
    return SearchHit(thread_id, turn, float(score), iso(created_at), raw)


class _OneConnection:
    """A single connection standing in for a pool (to read a database before pooling it)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @contextmanager
    def connection(self) -> Iterator[Any]:
        yield self.conn


class AdvisoryThreadLocks:
    """Serialise the turns of each thread across app servers with Postgres advisory locks.

    A session-level lock held on a pooled connection for the length of the turn; Postgres releases
    it if the connection or the process dies. Polled rather than blocking in `pg_advisory_lock`:
    a waiting statement keeps a transaction open, and the checkpointer's setup (CREATE INDEX
    CONCURRENTLY) waits for every open transaction.
    """

    def __init__(self, pool: Any) -> None:
        # A pool of its own: a turn holds a lock connection while it reads and writes through the
        # data pool, so sharing one pool could leave every connection waiting for another.
        self.pool = pool

    def setup(self, timeout: float = 120.0) -> Any:
        return self._held(SETUP_LOCK_KEY, timeout, "the database is being set up by another server")

    def hold(self, thread_id: str, timeout: float) -> Any:
        digest = hashlib.blake2b(thread_id.encode("utf-8", "surrogatepass"), digest_size=8)
        key = int.from_bytes(digest.digest(), "big", signed=True)
        return self._held(key, timeout, busy_thread(thread_id))

    def close(self) -> None:
        """The pool is closed by whoever opened it."""

    @contextmanager
    def _held(self, key: int, timeout: float, busy: str) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        with self.pool.connection() as conn:

            def try_lock() -> bool:
                return conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,)).fetchone()[
                    "ok"
                ]

            wait_for(try_lock, deadline, busy)
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


class Maintenance:
    VACUUM_EVERY = 10
    """Turns between two vacuums of the checkpoint tables (see `after_turn`)."""
    ANALYZE_AT = (10, 30, 100, 300)
    ANALYZE_EVERY = 1000
    """Turns (of this process) after which the transcript's statistics are refreshed, so that
    recall knows its common terms early (autovacuum's ANALYZE comes later on a small table)."""

    def __init__(self, pool: Any, dialect: PostgresDialect | None = None) -> None:
        self.pool = pool
        self.dialect = dialect
        self._turns = 0
        self._lock = threading.Lock()

    def after_turn(self) -> None:
        """Vacuum the checkpoint tables every few turns.

        Each turn replaces a thread's checkpoint (a few KB of recent turns), and Postgres only
        reuses the old row's space once VACUUM has seen it. Autovacuum visits at most once a
        minute, so a busy server would let these small tables grow by every turn in between;
        a plain VACUUM of them takes milliseconds and blocks no reader or writer.
        """
        with self._lock:
            self._turns += 1
            due = self._turns % self.VACUUM_EVERY == 0
            analyze = self._turns in self.ANALYZE_AT or self._turns % self.ANALYZE_EVERY == 0
        if due:
            with self.pool.connection() as conn:
                conn.execute(
                    "VACUUM (SKIP_LOCKED) checkpoints, checkpoint_blobs, checkpoint_writes"
                )
        if analyze:
            with self.pool.connection() as conn:
                conn.execute("ANALYZE memoria_turns")
            if self.dialect is not None:
                self.dialect.forget_statistics()


class PostgresDatabase(Database):
    def __init__(self, *args: Any, maintenance: Maintenance, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.maintenance = maintenance

    def after_turn(self) -> None:
        self.maintenance.after_turn()


@contextmanager
def open_postgres(
    location: Location, *, read_only: bool = False, init: bool = False
) -> Iterator[Database]:
    """Connect pools to Postgres and check (writing: create or upgrade) the schema."""
    try:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError as exc:
        raise DatabaseOpenError(
            "Postgres needs the postgres extra: pip install 'langgraph-memoria[postgres]'"
        ) from exc
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    with ExitStack() as stack:
        try:
            # One direct attempt first: a wrong URL fails now, not after the pool's retries.
            with psycopg.connect(location.target, connect_timeout=10, **kwargs) as conn:
                probe = PostgresDialect(_OneConnection(conn))
                layout = schema.classify(probe.table_names(), probe.read_meta, schema.POSTGRES)
            if layout.kind == "newer" or read_only:
                schema.check_readable(layout, location.display, ANALYZER_VERSION)
            if read_only and layout.kind == "empty":
                raise NoDatabaseError(f"no threads yet in {location.display}")
            pool = ConnectionPool(
                location.target, min_size=1, max_size=10, kwargs=kwargs, open=False
            )
            stack.callback(pool.close)
            pool.open(wait=True, timeout=10)
            saver = _saver_class()(pool, serde=strict_serializer())
            locks = AdvisoryThreadLocks(
                stack.enter_context(
                    _closing_pool(
                        ConnectionPool(
                            location.target, min_size=0, max_size=32, kwargs=kwargs, open=True
                        )
                    )
                )
            )
            # Reading never rebuilds an index another analysis built (it reads it as it is);
            # only Memoria 0.1's data, which has no index yet, is upgraded once.
            dialect = PostgresDialect(pool)
            if not read_only or layout.kind == "upgrade":
                with locks.setup():
                    schema.prepare(dialect, location.display, init=init, analyzer=ANALYZER_VERSION)
                    saver.setup()  # LangGraph's own migrations, if a newer version brings any
        except (DatabaseOpenError, NoDatabaseError):
            raise
        except Exception as exc:  # psycopg's errors and the pool's timeout
            raise DatabaseOpenError(
                f"cannot open the database {location.display}: {first_line(exc)}"
            ) from None
        yield PostgresDatabase(
            location,
            saver,
            ThreadArchive(dialect),
            None if read_only else locks,
            read_only=read_only,
            maintenance=Maintenance(pool, dialect),
        )


@contextmanager
def _closing_pool(pool: Any) -> Iterator[Any]:
    pool.open()
    try:
        yield pool
    finally:
        pool.close()
