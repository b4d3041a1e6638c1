"""Postgres: LangGraph's `PostgresSaver` tables for checkpoints, Memoria's tables for transcripts,
with Postgres full-text search (a `tsvector` column with a GIN index, ranked by `ts_rank_cd`).

The tables mirror the SQLite ones (`memoria_meta`, `memoria_threads`, `memoria_turns`); a turn's
row carries its own `tsvector`, so the transcript and its index are one row, written in one
statement. Text is analysed in Python (the same terms as on SQLite) and indexed with the `simple`
configuration, which only lower-cases. Messages are stored as JSON text, which escapes NUL
characters (Postgres text cannot hold them), so a thread holding NULs migrates losslessly.
Turns of one thread are serialised across servers with advisory locks.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from psycopg.rows import tuple_row

from memoria.analysis import ANALYZER_VERSION, search_terms
from memoria.errors import busy_thread, first_line
from memoria.fence import wait_for
from memoria.persistence.base import (
    PENDING,
    SCHEMA_VERSION,
    AsyncOnThreads,
    Database,
    DatabaseOpenError,
    FencedWrites,
    NoDatabaseError,
    ThreadRecord,
    layout_of,
    newer_database,
    v1_threads,
)
from memoria.persistence.catalog import POSTGRES_LIST, ThreadInfo, infos
from memoria.persistence.location import Location
from memoria.persistence.sqlite import strict_serializer
from memoria.transcript import (
    TRANSCRIPT_NAMESPACE,
    ArchivedTurn,
    SearchHit,
    decode_messages,
    encode_message,
    index_terms,
    now_iso,
    pack_summary,
    title_of,
    unpack_summary,
)

STATISTICS_SECONDS = 60.0
"""How long the term statistics (pg_stats) are reused before they are read again."""
SETUP_LOCK_KEY = 0x6D656D6F726961  # "memoria": serialises schema setup across servers
MEMORIA_TABLES = ("memoria_meta", "memoria_threads", "memoria_turns")
SAVER_TABLES = ("checkpoint_migrations", "checkpoints", "checkpoint_blobs", "checkpoint_writes")
V1_SIGNATURE = {"checkpoints", "store"}
"""The tables every Memoria 0.1 database has; `V1_TABLES`, all it may have."""
V1_TABLES = {*SAVER_TABLES, "store", "store_migrations", "vector_migrations"}
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
INSERT_TURN = (
    "INSERT INTO memoria_turns (thread_id, turn, language, created_at, messages, summary, folded,"
    " terms) VALUES (%s, %s, %s, %s::timestamptz, %s, %s, %s, to_tsvector('simple', %s))"
)
UPSERT_RECORD = (
    "INSERT INTO memoria_threads (thread_id, created_at, updated_at, title, language, turns) "
    "VALUES (%s, %s::timestamptz, %s::timestamptz, %s, %s, "
    "(SELECT count(*) FROM memoria_turns WHERE thread_id = %s)) ON CONFLICT (thread_id) DO UPDATE "
    "SET created_at = excluded.created_at, updated_at = excluded.updated_at, "
    "title = excluded.title, language = excluded.language, turns = excluded.turns"
)


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
                for thread_id in threads:  # a checkpoint whose parent was deleted has no parent
                    conn.execute(
                        "UPDATE checkpoints AS c SET parent_checkpoint_id = NULL WHERE "
                        "c.thread_id = %s AND c.parent_checkpoint_id IS NOT NULL AND NOT EXISTS ("
                        "SELECT 1 FROM checkpoints AS p WHERE p.thread_id = c.thread_id AND "
                        "p.checkpoint_ns = c.checkpoint_ns AND "
                        "p.checkpoint_id = c.parent_checkpoint_id)",
                        (thread_id,),
                    )
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


def _iso(value: Any) -> str:
    return value.isoformat(timespec="milliseconds") if isinstance(value, datetime) else str(value)


def _clean(text: str | None) -> str | None:
    """Postgres text cannot hold NUL; derived text (titles, summaries) simply loses it."""
    return None if text is None else text.replace("\x00", "")


class PostgresArchive:
    """Transcripts, their tsvector index and thread records in Postgres, through a pool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._stats: tuple[float, dict[str, float], int] | None = None

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self.pool.connection() as conn, conn.transaction():
            yield conn

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        """The pool is closed by whoever opened it."""

    def archive(self, thread_id: str, turn: ArchivedTurn, language: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM memoria_turns WHERE thread_id = %s AND turn >= %s",
                (thread_id, turn.number),
            )
            _insert_turn(conn, thread_id, turn, language)
            conn.execute(
                "INSERT INTO memoria_threads (thread_id, created_at, updated_at, title, language, "
                "turns) VALUES (%s, %s::timestamptz, %s::timestamptz, %s, %s, %s) ON CONFLICT "
                "(thread_id) DO UPDATE SET updated_at = excluded.updated_at, "
                "turns = excluded.turns, "
                "title = CASE WHEN memoria_threads.title = '' THEN excluded.title "
                "ELSE memoria_threads.title END, "
                "language = CASE WHEN memoria_threads.language = '' THEN excluded.language "
                "ELSE memoria_threads.language END",
                (
                    thread_id,
                    turn.created_at,
                    turn.created_at,
                    _clean(title_of(turn.messages) if turn.number == 0 else ""),
                    language,
                    turn.number + 1,
                ),
            )

    def discard(self, thread_id: str, from_turn: int) -> None:
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM memoria_turns WHERE thread_id = %s AND turn >= %s",
                (thread_id, from_turn),
            )
            conn.execute(
                "UPDATE memoria_threads SET turns = %s WHERE thread_id = %s AND turns > %s",
                (from_turn, thread_id, from_turn),
            )

    def delete(self, thread_id: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM memoria_turns WHERE thread_id = %s", (thread_id,))
            conn.execute("DELETE FROM memoria_threads WHERE thread_id = %s", (thread_id,))

    def import_thread(
        self, record: ThreadRecord, turns: Sequence[ArchivedTurn], language: str
    ) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM memoria_turns WHERE thread_id = %s", (record.thread_id,))
            for turn in turns:
                _insert_turn(conn, record.thread_id, turn, language)
            _upsert_record(conn, record, language)

    def copy(self, source: str, target: str, *, turns: int) -> None:
        record = self.thread(source)
        language = self.thread_language(source) or "en"
        now = now_iso()
        with self._transaction() as conn:
            conn.execute("DELETE FROM memoria_turns WHERE thread_id = %s", (target,))
            conn.execute(
                "INSERT INTO memoria_turns (thread_id, turn, language, created_at, messages, "
                "summary, folded, terms) SELECT %s, turn, language, created_at, messages, summary, "
                "folded, terms FROM memoria_turns WHERE thread_id = %s AND turn < %s",
                (target, source, turns),
            )
            title = record.title if record else ""
            _upsert_record(conn, ThreadRecord(target, now, now, title), language)

    def rename(self, old: str, new: str) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE memoria_turns SET thread_id = %s WHERE thread_id = %s", (new, old))
            conn.execute(
                "UPDATE memoria_threads SET thread_id = %s WHERE thread_id = %s", (new, old)
            )

    def mark_pending(self, target: str, operation: str, source: str = "") -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO memoria_meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (PENDING + target, json.dumps({"operation": operation, "source": source})),
            )

    def clear_pending(self, target: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM memoria_meta WHERE key = %s", (PENDING + target,))

    def pending(self) -> dict[str, dict[str, str]]:
        rows = self._rows(
            "SELECT key, value FROM memoria_meta WHERE left(key, %s) = %s",
            (len(PENDING), PENDING),
        )
        return {row["key"][len(PENDING) :]: json.loads(row["value"]) for row in rows}

    def read(self, thread_id: str, *, stop: int | None = None) -> list[ArchivedTurn]:
        rows = self._rows(
            "SELECT turn, created_at, messages, summary, folded FROM memoria_turns "
            "WHERE thread_id = %s AND turn < %s ORDER BY turn",
            (thread_id, 2**31 - 1 if stop is None else stop),
        )
        return [
            ArchivedTurn(
                row["turn"],
                decode_messages(row["messages"]),
                _iso(row["created_at"]),
                unpack_summary(row["summary"]),
                row["folded"],
            )
            for row in rows
        ]

    def thread_language(self, thread_id: str) -> str | None:
        rows = self._rows(
            "SELECT language FROM memoria_threads WHERE thread_id = %s AND language != ''",
            (thread_id,),
        )
        return rows[0]["language"] if rows else None

    def search(
        self, thread_id: str, terms: Sequence[str], *, before: int, limit: int
    ) -> list[SearchHit]:
        if not terms or before <= 0 or limit <= 0:
            return []
        rows = self._rows(
            "SELECT thread_id, turn, ts_rank_cd(terms, q, 1) AS score, created_at, messages "
            "FROM memoria_turns, to_tsquery('simple', %s) AS q "
            "WHERE thread_id = %s AND turn < %s AND terms @@ q "
            "ORDER BY score DESC, turn DESC LIMIT %s",
            (tsquery(terms), thread_id, before, limit),
        )
        return [_hit(row) for row in rows]

    def term_frequencies(self, thread_id: str, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many turns hold each term, and how many turns there are, over the whole database,
        from the statistics Postgres keeps on the `terms` column (`pg_stats`: its most common
        elements and their frequencies, refreshed by ANALYZE): no scan per term, so a turn's cost
        does not grow with the archive. Terms too rare to be among them count as 0."""
        if not terms:
            return {}, 0
        frequencies, total = self._statistics()
        return {term: round(frequencies.get(term, 0.0) * total) for term in terms}, total

    def forget_statistics(self) -> None:
        self._stats = None

    def _statistics(self) -> tuple[dict[str, float], int]:
        now = time.monotonic()
        if self._stats is not None and now - self._stats[0] < STATISTICS_SECONDS:
            return self._stats[1], self._stats[2]
        rows = self._rows(
            "SELECT most_common_elems::text::text[] AS terms, most_common_elem_freqs AS freqs, "
            "(SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'memoria_turns'"
            "::regclass) AS total FROM pg_stats WHERE schemaname = current_schema() "
            "AND tablename = 'memoria_turns' AND attname = 'terms'"
        )
        frequencies: dict[str, float] = {}
        total = 0
        if rows and rows[0]["terms"]:
            frequencies = dict(zip(rows[0]["terms"], rows[0]["freqs"], strict=False))
            total = int(rows[0]["total"])
        self._stats = (now, frequencies, total)
        return frequencies, total

    def search_all(
        self, text: str, *, thread_id: str | None = None, limit: int = 10
    ) -> list[SearchHit]:
        hits: list[SearchHit] = []
        for row in self._rows("SELECT DISTINCT language FROM memoria_turns"):
            terms = search_terms(text, row["language"])
            if not terms:
                continue
            rows = self._rows(
                "SELECT thread_id, turn, ts_rank_cd(terms, q, 1) AS score, created_at, messages "
                "FROM memoria_turns, to_tsquery('simple', %s) AS q WHERE terms @@ q "
                "AND language = %s AND (%s::text IS NULL OR thread_id = %s) "
                "ORDER BY score DESC LIMIT %s",
                (tsquery(terms), row["language"], thread_id, thread_id, limit),
            )
            hits.extend(_hit(found) for found in rows)
        return sorted(hits, key=lambda hit: -hit.score)[:limit]

    def infos(self, limit: int | None = None, thread_id: str | None = None) -> list[ThreadInfo]:
        with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            return infos(cur.execute(POSTGRES_LIST, (thread_id, thread_id, limit)).fetchall())

    def threads(self, limit: int | None = None) -> list[ThreadRecord]:
        rows = self._rows(
            "SELECT thread_id, created_at, updated_at, title, language, turns FROM memoria_threads "
            "ORDER BY updated_at DESC, thread_id LIMIT %s",
            (limit,),
        )
        return [_record(row) for row in rows]

    def thread(self, thread_id: str) -> ThreadRecord | None:
        rows = self._rows(
            "SELECT thread_id, created_at, updated_at, title, language, turns FROM memoria_threads "
            "WHERE thread_id = %s",
            (thread_id,),
        )
        return _record(rows[0]) if rows else None

    def size(self, thread_id: str) -> int:
        rows = self._rows(
            "SELECT coalesce(sum(pg_column_size(messages) + coalesce(pg_column_size(summary), 0)"
            " + pg_column_size(terms)), 0) AS size FROM memoria_turns WHERE thread_id = %s",
            (thread_id,),
        )
        return int(rows[0]["size"])


def _insert_turn(conn: Any, thread_id: str, turn: ArchivedTurn, language: str) -> None:
    conn.execute(
        INSERT_TURN,
        (
            thread_id,
            turn.number,
            language,
            turn.created_at,
            json.dumps([encode_message(m) for m in turn.messages], separators=(",", ":")),
            pack_summary(turn.summary),
            turn.folded,
            index_terms(turn.messages, language),
        ),
    )


def _upsert_record(conn: Any, record: ThreadRecord, language: str) -> None:
    conn.execute(
        UPSERT_RECORD,
        (
            record.thread_id,
            record.created_at,
            record.updated_at,
            _clean(record.title),
            language,
            record.thread_id,
        ),
    )


def _record(row: dict[str, Any]) -> ThreadRecord:
    return ThreadRecord(
        row["thread_id"],
        _iso(row["created_at"]),
        _iso(row["updated_at"]),
        row["title"],
        row["language"],
        row["turns"],
    )


def _hit(row: dict[str, Any]) -> SearchHit:
    return SearchHit(
        row["thread_id"],
        row["turn"],
        float(row["score"]),
        _iso(row["created_at"]),
        row["messages"],
    )


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

    def __init__(self, pool: Any, archive: PostgresArchive | None = None) -> None:
        self.pool = pool
        self.archive = archive
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
            if self.archive is not None:
                self.archive.forget_statistics()

    def checkpoint_bytes(self, thread_id: str) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT (SELECT coalesce(sum(pg_column_size(checkpoint) + "
                "pg_column_size(metadata)), 0) FROM checkpoints WHERE thread_id = %s) + "
                "(SELECT coalesce(sum(pg_column_size(blob)), 0) FROM checkpoint_blobs "
                "WHERE thread_id = %s) AS size",
                (thread_id, thread_id),
            ).fetchone()
        return int(row["size"])


# Schema


def _tables(conn: Any) -> set[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    ).fetchall()
    return {row["tablename"] for row in rows}


def _layout(conn: Any, display: str = "") -> str:
    """See `layout_of`; a database a newer Memoria wrote is refused here."""

    def meta() -> dict[str, str]:
        rows = conn.execute("SELECT key, value FROM memoria_meta").fetchall()
        return {row["key"]: row["value"] for row in rows}

    layout = layout_of(_tables(conn), meta, V1_SIGNATURE, V1_TABLES, set(MEMORIA_TABLES))
    if layout == "newer":
        raise newer_database(display, meta())
    return layout


def _prepare(conn: Any, saver: Any, display: str, *, init: bool) -> None:
    """Create or upgrade the schema (under the setup lock). Memoria's tables, and LangGraph's on a
    new database, are created in one transaction: a failure leaves the database as it was."""
    layout = _layout(conn, display)
    if layout == "memoria":
        saver.setup()  # LangGraph's own migrations, if a newer version brings any
        return
    tables = _tables(conn)
    if layout == "foreign":
        if not init:
            shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise DatabaseOpenError(
                f"{display} is not a Memoria database (it holds {shown}); "
                "pass --init-db to add Memoria's tables to it"
            )
        clash = sorted((set(MEMORIA_TABLES) | set(SAVER_TABLES)) & tables)
        if clash:
            raise DatabaseOpenError(
                f"{display} already has a table named {clash[0]}: Memoria cannot use this database"
            )
    with conn.transaction():
        if "checkpoint_migrations" not in tables:
            _create_saver_tables(conn, saver)
        if "memoria_meta" not in tables:
            for statement in SCHEMA:
                conn.execute(statement)
            if "store" in tables:
                _migrate_v1(conn)
        elif layout == "reindex":
            _rebuild_index(conn)
        conn.execute(
            "INSERT INTO memoria_meta (key, value) VALUES ('schema', %s), ('analyzer', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (SCHEMA_VERSION, ANALYZER_VERSION),
        )
    saver.setup()


def _create_saver_tables(conn: Any, saver: Any) -> None:
    """LangGraph's checkpoint migrations, run inside our transaction on a new database. Index
    creation there needs no CONCURRENTLY (the tables are new and empty), and recording each
    version lets `PostgresSaver.setup` find nothing left to do."""
    for version, migration in enumerate(saver.MIGRATIONS):
        conn.execute(migration.replace("CONCURRENTLY ", ""))
        if version > 0:
            conn.execute("INSERT INTO checkpoint_migrations (v) VALUES (%s)", (version,))
    conn.execute("INSERT INTO checkpoint_migrations (v) VALUES (0) ON CONFLICT DO NOTHING")


def _migrate_v1(conn: Any) -> None:
    """Move Memoria 0.1 transcripts (items of LangGraph's PostgresStore) into `memoria_turns`."""
    rows = conn.execute(
        "SELECT prefix, key, value, created_at FROM store WHERE prefix LIKE %s",
        (TRANSCRIPT_NAMESPACE + ".%",),
    ).fetchall()

    def turn(row: dict[str, Any]) -> ArchivedTurn:
        value = row["value"] if isinstance(row["value"], dict) else json.loads(row["value"])
        return ArchivedTurn(
            int(row["key"]), decode_messages(value["messages"]), _iso(row["created_at"])
        )

    for record, language, turns in v1_threads((row["prefix"], turn(row)) for row in rows):
        for archived in turns:
            _insert_turn(conn, record.thread_id, archived, language)
        _upsert_record(conn, record, language)
    conn.execute("DELETE FROM store WHERE prefix LIKE %s", (TRANSCRIPT_NAMESPACE + ".%",))


def _rebuild_index(conn: Any) -> None:
    rows = conn.execute("SELECT thread_id, turn, language, messages FROM memoria_turns").fetchall()
    for row in rows:
        conn.execute(
            "UPDATE memoria_turns SET terms = to_tsvector('simple', %s) "
            "WHERE thread_id = %s AND turn = %s",
            (
                index_terms(decode_messages(row["messages"]), row["language"]),
                row["thread_id"],
                row["turn"],
            ),
        )


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
            with psycopg.connect(location.target, connect_timeout=10, **kwargs) as probe:
                layout = _layout(probe, location.display)
            if read_only and layout == "empty":
                raise NoDatabaseError(f"no threads yet in {location.display}")
            if read_only and layout == "foreign":
                raise DatabaseOpenError(f"{location.display} is not a Memoria database")
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
            if not read_only or layout == "upgrade":
                with locks.setup(), pool.connection() as conn:
                    _prepare(conn, saver, location.display, init=init)
        except (DatabaseOpenError, NoDatabaseError):
            raise
        except Exception as exc:  # psycopg's errors and the pool's timeout
            raise DatabaseOpenError(
                f"cannot open the database {location.display}: {first_line(exc)}"
            ) from None
        archive = PostgresArchive(pool)
        maintenance = Maintenance(pool, archive)
        yield Database(
            location=location,
            checkpointer=saver,
            archive=archive,
            locks=None if read_only else locks,
            checkpoint_bytes=maintenance.checkpoint_bytes,
            after_turn=maintenance.after_turn,
            read_only=read_only,
        )


@contextmanager
def _closing_pool(pool: Any) -> Iterator[Any]:
    pool.open()
    try:
        yield pool
    finally:
        pool.close()
