"""SQLite: one file holds the checkpoints (LangGraph's `SqliteSaver` tables), the transcripts and
their FTS5 full-text index (Memoria's tables).

Memoria's tables:
- `memoria_meta`: schema version and the version of the text analysis the index was built with;
- `memoria_threads`: one row per thread (created, last updated, title, language), so that listing
  the newest threads and "continue the latest" never scan every thread;
- `memoria_turns`: one row per completed turn (compact JSON messages, time, summary snapshot);
- `memoria_search`: a contentless FTS5 table over the analysed terms of each turn (rowid = the
  turn's row id), ranked with bm25. A turn row, its index entry and its thread record are always
  written in one transaction, so the index never disagrees with the transcript.

Contentless FTS5 tables (SQLite 3.40 here has no `contentless_delete`) remove an entry by being
given its terms again; they are recomputed from the stored messages by the same analysis, and a
change of analysis version rebuilds the whole index once, when the database is next opened for
writing (reading reads it as it is; a newer Memoria's database is refused, never downgraded).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from memoria.analysis import ANALYZER_VERSION, search_terms
from memoria.errors import first_line
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
from memoria.persistence.catalog import SQLITE_LIST, ThreadInfo, infos, sqlite_read_uri
from memoria.persistence.location import Location
from memoria.persistence.locks import FileThreadLocks
from memoria.transcript import (
    TRANSCRIPT_NAMESPACE,
    ArchivedTurn,
    SearchHit,
    decode_messages,
    encode_message,
    fts5_query,
    index_terms,
    now_iso,
    pack_summary,
    title_of,
    unpack_summary,
)

BUSY_TIMEOUT_SECONDS = 30
FREQUENT_SHARE = 0.05
"""Terms in more than this share of the turns are remembered (see `term_frequencies`)."""
PAGE_SIZE = 16384
MEMORIA_TABLES = (
    "memoria_meta",
    "memoria_threads",
    "memoria_turns",
    "memoria_search",
    "memoria_vocabulary",
)
SAVER_TABLES = ("checkpoints", "writes")
V1_SIGNATURE = {"checkpoints", "writes", "store"}
"""The tables every Memoria 0.1 database has; `V1_TABLES`, all it may have."""
V1_TABLES = {*V1_SIGNATURE, "store_migrations", "vector_migrations"}
"""What Memoria 0.1 (transcripts in LangGraph's SqliteStore) left in a database."""

SCHEMA = """
CREATE TABLE memoria_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE memoria_threads (
    thread_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    turns INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX memoria_threads_by_update ON memoria_threads (updated_at);
CREATE TABLE memoria_turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    language TEXT NOT NULL,
    created_at TEXT NOT NULL,
    messages TEXT NOT NULL,
    summary BLOB,
    folded INTEGER NOT NULL DEFAULT 0,
    UNIQUE (thread_id, turn)
);
CREATE VIRTUAL TABLE memoria_search USING fts5(
    thread, terms, content='', tokenize='unicode61 remove_diacritics 0'
);
CREATE VIRTUAL TABLE memoria_vocabulary USING fts5vocab(memoria_search, 'row');
"""


def strict_serializer() -> JsonPlusSerializer:
    """Msgpack limited to LangGraph's allow-list of safe types (messages, dates, ...); no pickle."""
    return JsonPlusSerializer(pickle_fallback=False, allowed_msgpack_modules=None)


def thread_token(thread_id: str) -> str:
    """The thread as one FTS5 token, so a search ANDs it and reads only that thread's entries."""
    return (
        "t" + hashlib.blake2b(thread_id.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    )


def _forget_missing_parents(cur: sqlite3.Cursor, thread_id: str) -> None:
    """A checkpoint whose parent was deleted has no parent."""
    cur.execute(
        "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = ? "
        "AND parent_checkpoint_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM checkpoints AS p "
        "WHERE p.thread_id = checkpoints.thread_id AND p.checkpoint_ns = checkpoints.checkpoint_ns"
        " AND p.checkpoint_id = checkpoints.parent_checkpoint_id)",
        (thread_id,),
    )


class MemoriaSqliteSaver(FencedWrites, AsyncOnThreads, SqliteSaver):
    """`SqliteSaver` with every optional capability (prune, copy_thread, delete_for_runs), rollback
    of a failed turn (`discard_after`), and async methods that run the sync ones in a worker thread
    (the conformance suite and async callers use them; a sqlite3 connection is not async)."""

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        if isinstance(thread_ids, str):
            raise TypeError("thread_ids must be a sequence of thread IDs, not a str")
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"Unknown prune strategy: {strategy!r}")
        with self.cursor() as cur:
            for thread_id in map(str, thread_ids):
                if strategy == "delete":
                    cur.execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread_id,))
                    cur.execute("DELETE FROM writes WHERE thread_id = ?", (thread_id,))
                    continue
                for table in ("checkpoints", "writes"):
                    cur.execute(
                        f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id < "
                        "(SELECT max(checkpoint_id) FROM checkpoints AS latest "
                        f" WHERE latest.thread_id = ? AND latest.checkpoint_ns = {table}.checkpoint_ns)",
                        (thread_id, thread_id),
                    )
                _forget_missing_parents(cur, thread_id)

    def discard_after(self, config: RunnableConfig, checkpoint_id: str | None) -> None:
        thread_id = str(config["configurable"]["thread_id"])
        with self.cursor() as cur:
            for table in ("checkpoints", "writes"):
                cur.execute(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id > ?",
                    (thread_id, checkpoint_id or ""),
                )

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        source, target = str(source_thread_id), str(target_thread_id)
        with self.cursor() as cur:
            rows = cur.execute(
                "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, "
                "metadata FROM checkpoints WHERE thread_id = ?",
                (source,),
            ).fetchall()
            cur.executemany(
                "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
                "parent_checkpoint_id, type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(target, *row) for row in rows],
            )
            cur.execute(
                "INSERT OR REPLACE INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
                "task_path, idx, channel, type, value) SELECT ?, checkpoint_ns, checkpoint_id, "
                "task_id, task_path, idx, channel, type, value FROM writes WHERE thread_id = ?",
                (target, source),
            )

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        run_ids = [str(run_id) for run_id in run_ids]
        if not run_ids:
            return
        marks = ",".join("?" * len(run_ids))
        with self.cursor() as cur:
            doomed = cur.execute(
                "SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints WHERE "
                f"json_extract(CAST(metadata AS TEXT), '$.run_id') IN ({marks})",
                run_ids,
            ).fetchall()
            cur.executemany(
                "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                doomed,
            )
            cur.executemany(
                "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                "AND checkpoint_id = ?",
                doomed,
            )
            for thread_id in {row[0] for row in doomed}:
                _forget_missing_parents(cur, thread_id)


class SqliteArchive:
    """Transcripts, their FTS5 index and the thread records, on a connection of their own."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        self._frequent: dict[str, tuple[int, int]] = {}
        """term -> (turns holding it, turns in all) when it was counted and found frequent."""
        self._total: tuple[int, int] | None = None
        """(PRAGMA data_version, turns in all threads) as last counted: summing the thread
        records costs a scan of every thread, too much for each turn of a database of many."""
        self._turns_added: int | None = None
        """Set by a write that knows how many turns it added, so that the count stays exact."""

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            self._turns_added = None
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
                # This connection's own commits leave data_version as it is: carry the count
                # forward when the write said by how much, else count again next time.
                if self._total is not None and self._turns_added is not None:
                    self._total = (self._total[0], self._total[1] + self._turns_added)
                else:
                    self._total = None
            finally:
                cur.close()

    def _turn_total(self) -> int:
        """Turns in all threads; counted again only after another connection has committed."""
        with self._lock:
            (version,) = self.conn.execute("PRAGMA data_version").fetchone()
            if self._total is None or self._total[0] != version:
                (total,) = self.conn.execute(
                    "SELECT coalesce(sum(turns), 0) FROM memoria_threads"
                ).fetchone()
                self._total = (version, int(total))
            return self._total[1]

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:  # never under a query another thread (a cancelled turn's) is running
            self.conn.close()

    # Writing

    def archive(self, thread_id: str, turn: ArchivedTurn, language: str) -> None:
        with self._transaction() as cur:
            (before,) = cur.execute(
                "SELECT coalesce((SELECT turns FROM memoria_threads WHERE thread_id = ?), 0)",
                (thread_id,),
            ).fetchone()
            _remove_turns(cur, thread_id, turn.number)
            _insert_turn(cur, thread_id, turn, language)
            title = title_of(turn.messages) if turn.number == 0 else ""
            cur.execute(
                "INSERT INTO memoria_threads (thread_id, created_at, updated_at, title, language, "
                "turns) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET "
                "updated_at = excluded.updated_at, turns = excluded.turns, "
                "title = CASE WHEN memoria_threads.title = '' THEN excluded.title "
                "ELSE memoria_threads.title END, "
                "language = CASE WHEN memoria_threads.language = '' THEN excluded.language "
                "ELSE memoria_threads.language END",
                (thread_id, turn.created_at, turn.created_at, title, language, turn.number + 1),
            )
            self._turns_added = turn.number + 1 - before

    def discard(self, thread_id: str, from_turn: int) -> None:
        with self._transaction() as cur:
            _remove_turns(cur, thread_id, from_turn)
            cur.execute(
                "UPDATE memoria_threads SET turns = ? WHERE thread_id = ? AND turns > ?",
                (from_turn, thread_id, from_turn),
            )

    def delete(self, thread_id: str) -> None:
        with self._transaction() as cur:
            _remove_turns(cur, thread_id)
            cur.execute("DELETE FROM memoria_threads WHERE thread_id = ?", (thread_id,))

    def import_thread(
        self, record: ThreadRecord, turns: Sequence[ArchivedTurn], language: str
    ) -> None:
        with self._transaction() as cur:
            _remove_turns(cur, record.thread_id)
            for turn in turns:
                _insert_turn(cur, record.thread_id, turn, language)
            _upsert_record(cur, record, language)

    def copy(self, source: str, target: str, *, turns: int) -> None:
        record = self.thread(source)
        language = self.thread_language(source) or "en"
        copied = self.read(source, stop=turns)
        with self._transaction() as cur:
            _remove_turns(cur, target)
            for turn in copied:
                _insert_turn(cur, target, turn, language)
            now = now_iso()
            _upsert_record(
                cur,
                ThreadRecord(
                    target,
                    created_at=now,
                    updated_at=now,
                    title=record.title
                    if record
                    else title_of(copied[0].messages)
                    if copied
                    else "",
                ),
                language,
            )

    def rename(self, old: str, new: str) -> None:
        record = self.thread(old)
        language = self.thread_language(old) or "en"
        turns = self.read(old)
        with self._transaction() as cur:
            _remove_turns(cur, old)
            cur.execute("DELETE FROM memoria_threads WHERE thread_id = ?", (old,))
            for turn in turns:
                _insert_turn(cur, new, turn, language)
            if record is not None:
                _upsert_record(cur, ThreadRecord(new, *_record_fields(record)), language)

    def mark_pending(self, target: str, operation: str, source: str = "") -> None:
        with self._transaction() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO memoria_meta (key, value) VALUES (?, ?)",
                (PENDING + target, json.dumps({"operation": operation, "source": source})),
            )

    def clear_pending(self, target: str) -> None:
        with self._transaction() as cur:
            cur.execute("DELETE FROM memoria_meta WHERE key = ?", (PENDING + target,))

    def pending(self) -> dict[str, dict[str, str]]:
        rows = self._read(
            "SELECT key, value FROM memoria_meta WHERE substr(key, 1, ?) = ?",
            (len(PENDING), PENDING),
        )
        return {key[len(PENDING) :]: json.loads(value) for key, value in rows}

    # Reading

    def read(self, thread_id: str, *, stop: int | None = None) -> list[ArchivedTurn]:
        rows = self._read(
            "SELECT turn, created_at, messages, summary, folded FROM memoria_turns "
            "WHERE thread_id = ? AND turn < ? ORDER BY turn",
            (thread_id, 2**62 if stop is None else stop),
        )
        return [
            ArchivedTurn(turn, decode_messages(raw), created_at, unpack_summary(summary), folded)
            for turn, created_at, raw, summary, folded in rows
        ]

    def thread_language(self, thread_id: str) -> str | None:
        rows = self._read(
            "SELECT language FROM memoria_threads WHERE thread_id = ? AND language != ''",
            (thread_id,),
        )
        return rows[0][0] if rows else None

    def search(
        self, thread_id: str, terms: Sequence[str], *, before: int, limit: int
    ) -> list[SearchHit]:
        if not terms or before <= 0 or limit <= 0:
            return []
        query = f'thread : "{thread_token(thread_id)}" AND terms : ({fts5_query(terms)})'
        rows = self._read(
            "SELECT t.thread_id, t.turn, bm25(memoria_search, 0.0, 1.0) AS score, t.created_at, "
            "t.messages FROM memoria_search JOIN memoria_turns AS t ON t.id = memoria_search.rowid "
            "WHERE memoria_search MATCH ? AND t.thread_id = ? AND t.turn < ? "
            "ORDER BY score, t.turn DESC LIMIT ?",
            (query, thread_id, before, limit),
        )
        return [_hit(row) for row in rows]

    def term_frequencies(self, thread_id: str, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many turns hold each term, and how many turns there are, over the whole database
        (FTS5's vocabulary; per thread it would cost a search per term). Counting a term reads
        its whole posting list, so frequent terms are remembered: once a term is in more than
        FREQUENT_SHARE of the turns, it counts as that frequent until the archive doubles."""
        if not terms:
            return {}, 0
        total = self._turn_total()
        counts: dict[str, int] = {}
        for term in terms:
            remembered = self._frequent.get(term)
            if remembered is not None and total < 2 * remembered[1]:
                counts[term] = remembered[0]
        unknown = [term for term in dict.fromkeys(terms) if term not in counts]
        if unknown:
            counts.update(dict.fromkeys(unknown, 0))
            marks = ", ".join("?" * len(unknown))
            for term, docs in self._read(
                f"SELECT term, doc FROM memoria_vocabulary WHERE term IN ({marks})", unknown
            ):
                counts[term] = int(docs)
                if docs > FREQUENT_SHARE * total:
                    self._frequent[term] = (int(docs), int(total))
        return counts, int(total)

    def search_all(
        self, text: str, *, thread_id: str | None = None, limit: int = 10
    ) -> list[SearchHit]:
        hits: list[SearchHit] = []
        for (language,) in self._read("SELECT DISTINCT language FROM memoria_turns"):
            terms = search_terms(text, language)
            if not terms:
                continue
            query = f"terms : ({fts5_query(terms)})"
            if thread_id is not None:
                query = f'thread : "{thread_token(thread_id)}" AND {query}'
            rows = self._read(
                "SELECT t.thread_id, t.turn, bm25(memoria_search, 0.0, 1.0) AS score, "
                "t.created_at, t.messages FROM memoria_search JOIN memoria_turns AS t "
                "ON t.id = memoria_search.rowid WHERE memoria_search MATCH ? AND t.language = ? "
                "AND (? IS NULL OR t.thread_id = ?) ORDER BY score LIMIT ?",
                (query, language, thread_id, thread_id, limit),
            )
            hits.extend(_hit(row) for row in rows)
        return sorted(hits, key=lambda hit: -hit.score)[:limit]

    def infos(self, limit: int | None = None, thread_id: str | None = None) -> list[ThreadInfo]:
        return infos(
            self._read(SQLITE_LIST, (thread_id, thread_id, -1 if limit is None else limit))
        )

    def threads(self, limit: int | None = None) -> list[ThreadRecord]:
        rows = self._read(
            "SELECT thread_id, created_at, updated_at, title, language, turns FROM memoria_threads "
            "ORDER BY updated_at DESC, thread_id LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [ThreadRecord(*row) for row in rows]

    def thread(self, thread_id: str) -> ThreadRecord | None:
        rows = self._read(
            "SELECT thread_id, created_at, updated_at, title, language, turns FROM memoria_threads "
            "WHERE thread_id = ?",
            (thread_id,),
        )
        return ThreadRecord(*rows[0]) if rows else None

    def size(self, thread_id: str) -> int:
        (size,) = self._read(
            "SELECT coalesce(sum(length(messages) + coalesce(length(summary), 0)), 0) "
            "FROM memoria_turns WHERE thread_id = ?",
            (thread_id,),
        )[0]
        return int(size)


def _insert_turn(cur: sqlite3.Cursor, thread_id: str, turn: ArchivedTurn, language: str) -> None:
    cur.execute(
        "INSERT INTO memoria_turns (thread_id, turn, language, created_at, messages, summary, "
        "folded) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            thread_id,
            turn.number,
            language,
            turn.created_at,
            _dump_messages(turn.messages),
            pack_summary(turn.summary),
            turn.folded,
        ),
    )
    cur.execute(
        "INSERT INTO memoria_search (rowid, thread, terms) VALUES (?, ?, ?)",
        (cur.lastrowid, thread_token(thread_id), index_terms(turn.messages, language)),
    )


def _remove_turns(cur: sqlite3.Cursor, thread_id: str, from_turn: int = 0) -> None:
    """Delete the thread's turns numbered `from_turn` or later, and their index entries."""
    rows = cur.execute(
        "SELECT id, language, messages FROM memoria_turns WHERE thread_id = ? AND turn >= ?",
        (thread_id, from_turn),
    ).fetchall()
    token = thread_token(thread_id)
    cur.executemany(
        "INSERT INTO memoria_search (memoria_search, rowid, thread, terms) "
        "VALUES ('delete', ?, ?, ?)",
        [(row_id, token, index_terms(decode_messages(raw), lang)) for row_id, lang, raw in rows],
    )
    cur.executemany("DELETE FROM memoria_turns WHERE id = ?", [(row[0],) for row in rows])


def _hit(row: tuple) -> SearchHit:
    thread_id, turn, score, created_at, raw = row
    return SearchHit(thread_id, turn, -score, created_at, raw)


def _record_fields(record: ThreadRecord) -> tuple[str, str, str]:
    return record.created_at, record.updated_at, record.title


def _upsert_record(cur: sqlite3.Cursor, record: ThreadRecord, language: str) -> None:
    """The thread's record, its turn count taken from its archived turns."""
    cur.execute(
        "INSERT OR REPLACE INTO memoria_threads (thread_id, created_at, updated_at, title, "
        "language, turns) VALUES (?, ?, ?, ?, ?, "
        "(SELECT count(*) FROM memoria_turns WHERE thread_id = ?))",
        (
            record.thread_id,
            record.created_at,
            record.updated_at,
            record.title,
            language,
            record.thread_id,
        ),
    )


def _dump_messages(messages: Sequence[Any]) -> str:
    return json.dumps(
        [encode_message(m) for m in messages], ensure_ascii=False, separators=(",", ":")
    )


# Opening, schema, upgrades


def _connect(target: str, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(
            sqlite_read_uri(target),
            uri=True,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_SECONDS,
        )
    else:
        conn = sqlite3.connect(
            target, check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'memoria_search_%'"
    ).fetchall()
    return {row[0] for row in rows}


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM memoria_meta").fetchall())


def _layout(conn: sqlite3.Connection, display: str = "") -> str:
    """See `layout_of`; a database a newer Memoria wrote is refused here."""
    layout = layout_of(
        _tables(conn), lambda: _meta(conn), V1_SIGNATURE, V1_TABLES, set(MEMORIA_TABLES)
    )
    if layout == "newer":
        raise newer_database(display, _meta(conn))
    return layout


def _prepare(conn: sqlite3.Connection, path: Path, *, init: bool) -> None:
    """Create or upgrade Memoria's schema. Runs under the setup lock, in one transaction: a failure
    leaves the file exactly as it was."""
    layout = _layout(conn, str(path))
    if layout == "memoria":
        return
    tables = _tables(conn)
    if layout == "foreign":
        if not init:
            shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise DatabaseOpenError(
                f"{path} is not a Memoria database (it holds {shown}); "
                "pass --init-db to add Memoria's tables to it"
            )
        if clash := _clashing_table(conn, tables):
            raise DatabaseOpenError(
                f"{path} already has a table named {clash} that is not Memoria's: "
                "Memoria cannot use this database"
            )
    if layout == "empty":
        # Only effective on a new file: 16 KiB pages pack a turn's row (a few KB) with less slack
        # than 4 KiB ones (1.44x the raw text against 1.51x), and incremental auto-vacuum lets
        # deleting a thread give its space back to the file.
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        if "memoria_meta" not in tables:
            for statement in _statements(SCHEMA):
                conn.execute(statement)
            _create_saver_tables(conn)
            if "store" in tables:
                _migrate_v1(conn)
        elif layout == "reindex":
            _rebuild_index(conn)
        conn.executemany(
            "INSERT OR REPLACE INTO memoria_meta (key, value) VALUES (?, ?)",
            [("schema", SCHEMA_VERSION), ("analyzer", ANALYZER_VERSION)],
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


@functools.cache
def _saver_schema() -> dict[str, tuple[str, tuple[str, ...]]]:
    """LangGraph's checkpoint tables as its `SqliteSaver.setup` makes them: name -> (DDL, columns)."""
    with closing(sqlite3.connect(":memory:")) as scratch:
        SqliteSaver(scratch).setup()
        return {
            name: (
                ddl,
                tuple(row[1] for row in scratch.execute(f"PRAGMA table_info({name})")),
            )
            for name, ddl in scratch.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
                SAVER_TABLES,
            )
        }


def _create_saver_tables(conn: sqlite3.Connection) -> None:
    """The checkpoint tables, created inside our transaction so that setup is all-or-nothing;
    `SqliteSaver.setup` (run afterwards) finds them and only adds what a newer LangGraph needs."""
    for ddl, _ in _saver_schema().values():
        conn.execute(ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))


def _clashing_table(conn: sqlite3.Connection, tables: set[str]) -> str | None:
    """A table of ours, or one of LangGraph's with other columns, already in a foreign database."""
    for name in sorted(set(MEMORIA_TABLES) & tables):
        return name
    for name, (_, columns) in _saver_schema().items():
        if name in tables:
            existing = tuple(row[1] for row in conn.execute(f"PRAGMA table_info({name})"))
            if existing != columns:
                return name
    return None


def _migrate_v1(conn: sqlite3.Connection) -> None:
    """Move Memoria 0.1 transcripts (items of LangGraph's store) into `memoria_turns` and index them."""
    rows = conn.execute(
        "SELECT prefix, key, value, created_at FROM store WHERE prefix LIKE ? ESCAPE '\\'",
        (TRANSCRIPT_NAMESPACE.replace("_", "\\_") + ".%",),
    ).fetchall()
    turns = (
        (
            prefix,
            ArchivedTurn(
                int(key),
                decode_messages(json.loads(value)["messages"]),
                str(created_at).replace(" ", "T"),
            ),
        )
        for prefix, key, value, created_at in rows
    )
    cur = conn.cursor()
    for record, language, thread_turns in v1_threads(turns):
        for turn in thread_turns:
            _insert_turn(cur, record.thread_id, turn, language)
        _upsert_record(cur, record, language)
    conn.execute(
        "DELETE FROM store WHERE prefix LIKE ? ESCAPE '\\'",
        (TRANSCRIPT_NAMESPACE.replace("_", "\\_") + ".%",),
    )


def _rebuild_index(conn: sqlite3.Connection) -> None:
    """The text analysis changed: index every turn again with the new one."""
    conn.execute("INSERT INTO memoria_search (memoria_search) VALUES ('delete-all')")
    rows = conn.execute("SELECT id, thread_id, language, messages FROM memoria_turns").fetchall()
    conn.executemany(
        "INSERT INTO memoria_search (rowid, thread, terms) VALUES (?, ?, ?)",
        [
            (row_id, thread_token(thread_id), index_terms(decode_messages(raw), language))
            for row_id, thread_id, language, raw in rows
        ],
    )


@contextmanager
def open_sqlite(
    location: Location, *, read_only: bool = False, init: bool = False
) -> Iterator[Database]:
    """Open a SQLite database. Writing: create it (owner-only) or upgrade it as needed. Reading:
    create nothing and change no schema, except the one-time upgrade of an older Memoria database."""
    # SQLite names the -wal and -shm files after the path it opens: open the file by its real
    # path, so that a symlink, `./x` and an absolute path share them.
    path = Path(os.path.realpath(Path(location.target).expanduser()))
    with ExitStack() as stack:
        try:
            if read_only:
                if not path.exists():
                    raise NoDatabaseError(f"no database at {path}")
                _refuse_hard_links(path)
                conn = stack.enter_context(closing(_connect(str(path), read_only=True)))
                layout = _layout(conn, str(path))
                if layout == "foreign":
                    raise DatabaseOpenError(f"{path} is not a Memoria database")
                # Reading never rebuilds an index another analysis built (it reads it as it
                # is); only Memoria 0.1's data, which has no index yet, is upgraded once.
                if layout == "upgrade":
                    conn.close()
                    _upgrade_in_place(path)
                    conn = stack.enter_context(closing(_connect(str(path), read_only=True)))
                if layout == "empty":
                    raise NoDatabaseError(f"no threads yet in {path}")
                locks = None
                saver_conn = stack.enter_context(closing(_connect(str(path), read_only=True)))
                saver_conn.isolation_level = (
                    "DEFERRED"  # implicit transactions, as SqliteSaver expects
                )
                archive_conn = conn
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
                _refuse_hard_links(path)
                locks = FileThreadLocks(path)
                stack.callback(locks.close)
                archive_conn = stack.enter_context(closing(_connect(str(path), read_only=False)))
                with locks.setup():
                    _prepare(archive_conn, path, init=init)
                # In WAL mode NORMAL never corrupts the database and survives a killed process;
                # only a power cut may lose the last turns. It saves an fsync per transaction.
                archive_conn.execute("PRAGMA journal_mode=WAL")
                archive_conn.execute("PRAGMA synchronous=NORMAL")
                saver_conn = stack.enter_context(closing(_connect(str(path), read_only=False)))
                saver_conn.isolation_level = "DEFERRED"
                saver_conn.execute("PRAGMA synchronous=NORMAL")
            saver = MemoriaSqliteSaver(saver_conn, serde=strict_serializer())
            saver.is_setup = read_only  # reading never runs DDL; writing lets LangGraph migrate
            if not read_only:
                with locks.setup():  # type: ignore[union-attr]
                    saver.setup()
            archive = SqliteArchive(archive_conn)
            # A cancelled turn's worker may still be inside a query when the database is closed,
            # and sqlite3 crashes the process if a connection is closed under a running call:
            # close each one under the lock its users hold (its `closing` then does nothing).
            stack.callback(_close_under_lock, saver)
            stack.callback(archive.close)
        except sqlite3.Error as exc:
            raise DatabaseOpenError(f"cannot open the database {path}: {first_line(exc)}") from exc
        except OSError as exc:
            reason = exc.strerror or first_line(exc)
            raise DatabaseOpenError(f"cannot open the database {path}: {reason}") from exc
        yield Database(
            location=location,
            checkpointer=saver,
            archive=archive,
            locks=locks,
            checkpoint_bytes=lambda thread_id: _checkpoint_bytes(saver, thread_id),
            reclaim=lambda: _reclaim(saver),
            read_only=read_only,
        )


def _close_under_lock(saver: MemoriaSqliteSaver) -> None:
    with saver.lock:
        saver.conn.close()


def _refuse_hard_links(path: Path) -> None:
    """Two names for one file would get two write-ahead logs (SQLite keeps it beside the name
    it opened), and a writer through one would not see commits through the other."""
    if os.stat(path).st_nlink > 1:
        raise DatabaseOpenError(
            f"{path} has several hard links: SQLite keeps its write-ahead log beside the name it "
            "opens, so writers through two names would lose each other's turns; use one name "
            "(a symlink is fine)"
        )


def _upgrade_in_place(path: Path) -> None:
    """A read-only command met an older Memoria database: upgrade it once (it is Memoria's own
    data), which needs write access."""
    if not os.access(path, os.W_OK):
        raise DatabaseOpenError(
            f"{path} was written by an older Memoria and needs a one-time upgrade: "
            "open it once with write access (any command that writes)"
        )
    locks = FileThreadLocks(path)
    try:
        with closing(_connect(str(path), read_only=False)) as conn, locks.setup():
            _prepare(conn, path, init=False)
    finally:
        locks.close()


def _checkpoint_bytes(saver: MemoriaSqliteSaver, thread_id: str) -> int:
    with saver.cursor(transaction=False) as cur:
        (size,) = cur.execute(
            "SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0) FROM checkpoints "
            "WHERE thread_id = ?",
            (thread_id,),
        ).fetchone()
    return int(size)


def _reclaim(saver: MemoriaSqliteSaver) -> None:
    with saver.cursor(transaction=False):
        # Deleting from a contentless FTS5 index only records tombstones; merging its segments
        # drops them, so that the pages can be freed. executescript steps the vacuum pragma to
        # the end; `execute` would free a single page.
        saver.conn.executescript(
            "INSERT INTO memoria_search (memoria_search) VALUES ('optimize'); "
            "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);"
        )
