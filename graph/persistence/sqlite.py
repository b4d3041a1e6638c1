"""SQLite: one file holds the checkpoints (LangGraph's `SqliteSaver` tables), the transcripts and
their FTS5 full-text index (Memoria's tables).

What is SQLite's own here: opening the file (owner-only, by its real path, never through a second
hard link), file locks (`locks.py`), the checkpointer (`MemoriaSqliteSaver`), reclaiming space, and
the archive's dialect: one connection under a lock, `BEGIN IMMEDIATE` transactions, and the index.

Memoria's tables (the schema and its upgrades are `schema.py`'s):
- `memoria_meta`: schema version, the version of the text analysis the index was built with, the
  migrations applied and the pending operations;
- `memoria_threads`: one row per thread (created, last updated, title, language, turns);
- `memoria_turns`: one row per completed turn (compact JSON messages, time, summary snapshot);
- `memoria_search`: a contentless FTS5 table over the analysed terms of each turn (rowid = the
  turn's row id) and a token naming its thread, ranked with bm25; `memoria_vocabulary` counts terms.

Contentless FTS5 tables (SQLite 3.40 here has no `contentless_delete`) remove an entry by being
given its terms again; they are recomputed from the stored messages by the same analysis, and a
change of analysis version rebuilds the whole index once, when the database is next opened for
writing (reading reads it as it is; a newer Memoria's database is refused, never downgraded).
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver

from memoria.analysis import ANALYZER_VERSION
from memoria.errors import first_line
from memoria.persistence import schema
from memoria.persistence.archive import (
    TURN_COLUMNS,
    Cursor,
    Dialect,
    ThreadArchive,
    indexed_rows,
)
from memoria.persistence.base import (
    AsyncOnThreads,
    Database,
    DatabaseOpenError,
    FencedWrites,
    NoDatabaseError,
    strict_serializer,
)
from memoria.persistence.catalog import sqlite_read_uri
from memoria.persistence.location import Location
from memoria.persistence.locks import FileThreadLocks
from memoria.transcript import SearchHit, fts5_query

__all__ = ["MemoriaSqliteSaver", "SqliteDatabase", "open_sqlite", "strict_serializer"]

BUSY_TIMEOUT_SECONDS = 30
FREQUENT_SHARE = 0.05
"""Terms in more than this share of the turns are remembered (see `term_frequencies`)."""
PAGE_SIZE = 16384

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
"""Memoria's tables, as migration 0001 creates them (read when it runs)."""


def thread_token(thread_id: str) -> str:
    """The thread as one FTS5 token, so a search ANDs it and reads only that thread's entries."""
    return (
        "t" + hashlib.blake2b(thread_id.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
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
                cur.execute(schema.FORGET_MISSING_PARENTS, (thread_id,))

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
                cur.execute(schema.FORGET_MISSING_PARENTS, (thread_id,))


class SqliteDialect(Dialect):
    """The archive on one sqlite3 connection of its own, used under a lock."""

    flavour = schema.SQLITE

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
    def transaction(self) -> Iterator[Cursor]:
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

    def turns_changing(self, cur: Cursor, thread_id: str, turns: int) -> None:
        (before,) = cur.execute(
            "SELECT coalesce((SELECT turns FROM memoria_threads WHERE thread_id = ?), 0)",
            (thread_id,),
        ).fetchone()
        self._turns_added = turns - int(before)

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:  # never under a query another thread (a cancelled turn's) is running
            self.conn.close()

    # Schema

    def table_names(self) -> set[str]:
        rows = self.read(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'memoria_search_%'"
        )
        return {row[0] for row in rows}

    def prepare_empty(self) -> None:
        # Only effective on a new file: 16 KiB pages pack a turn's row (a few KB) with less slack
        # than 4 KiB ones (1.44x the raw text against 1.51x), and incremental auto-vacuum lets
        # deleting a thread give its space back to the file.
        self.conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        self.conn.execute("PRAGMA auto_vacuum=INCREMENTAL")

    def create_tables(self, cur: Cursor, existing: set[str]) -> None:
        for statement in schema.statements(SCHEMA):
            cur.execute(statement)
        # The checkpoint tables, created inside our transaction so that setup is all-or-nothing;
        # `SqliteSaver.setup` (run afterwards) finds them and only adds what a newer LangGraph
        # needs.
        for ddl, _ in _saver_schema().values():
            cur.execute(ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))

    def clashing_table(self, tables: set[str]) -> str | None:
        """A table of ours, or one of LangGraph's with other columns."""
        for name in sorted(self.flavour.own & tables):
            return name
        for name, (_, columns) in _saver_schema().items():
            if name in tables and _columns(self.conn, name) != columns:
                return name
        return None

    def rebuild_index(self, cur: Cursor) -> None:
        cur.execute("INSERT INTO memoria_search (memoria_search) VALUES ('delete-all')")
        rows = cur.execute("SELECT id, thread_id, language, messages FROM memoria_turns").fetchall()
        entries = indexed_rows(((row_id, thread), lang, raw) for row_id, thread, lang, raw in rows)
        cur.executemany(
            "INSERT INTO memoria_search (rowid, thread, terms) VALUES (?, ?, ?)",
            [(row_id, thread_token(thread), terms) for (row_id, thread), terms in entries],
        )

    # The index: FTS5 entries beside the rows, named by the turn's row id

    def insert_turn(self, cur: Cursor, row: Sequence[Any], terms: str) -> None:
        cur.execute(f"INSERT INTO memoria_turns ({TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        cur.execute(
            "INSERT INTO memoria_search (rowid, thread, terms) VALUES (?, ?, ?)",
            (cur.lastrowid, thread_token(row[0]), terms),  # type: ignore[attr-defined]
        )

    def unindex(self, cur: Cursor, thread_id: str, from_turn: int) -> None:
        rows = cur.execute(
            "SELECT id, language, messages FROM memoria_turns WHERE thread_id = ? AND turn >= ?",
            (thread_id, from_turn),
        ).fetchall()
        token = thread_token(thread_id)
        cur.executemany(
            "INSERT INTO memoria_search (memoria_search, rowid, thread, terms) "
            "VALUES ('delete', ?, ?, ?)",
            [(row_id, token, terms) for row_id, terms in indexed_rows(rows)],
        )

    def index_copied(self, cur: Cursor, thread_id: str) -> None:
        self._reindex_thread(cur, thread_id, None)

    def retag(self, cur: Cursor, old: str, new: str) -> None:
        self._reindex_thread(cur, new, old)

    def _reindex_thread(self, cur: Cursor, thread_id: str, old: str | None) -> None:
        """Index the thread's rows under its token, first dropping their entries under `old`'s
        (the terms, analysed once, are the same for both)."""
        rows = cur.execute(
            "SELECT id, language, messages FROM memoria_turns WHERE thread_id = ?", (thread_id,)
        ).fetchall()
        entries = indexed_rows(rows)
        if old is not None:
            token = thread_token(old)
            cur.executemany(
                "INSERT INTO memoria_search (memoria_search, rowid, thread, terms) "
                "VALUES ('delete', ?, ?, ?)",
                [(row_id, token, terms) for row_id, terms in entries],
            )
        token = thread_token(thread_id)
        cur.executemany(
            "INSERT INTO memoria_search (rowid, thread, terms) VALUES (?, ?, ?)",
            [(row_id, token, terms) for row_id, terms in entries],
        )

    def match_thread(
        self, thread_id: str, terms: Sequence[str], *, before: int, limit: int
    ) -> list[SearchHit]:
        query = f'thread : "{thread_token(thread_id)}" AND terms : ({fts5_query(terms)})'
        rows = self.read(
            "SELECT t.thread_id, t.turn, bm25(memoria_search, 0.0, 1.0) AS score, t.created_at, "
            "t.messages FROM memoria_search JOIN memoria_turns AS t ON t.id = memoria_search.rowid "
            "WHERE memoria_search MATCH ? AND t.thread_id = ? AND t.turn < ? "
            "ORDER BY score, t.turn DESC LIMIT ?",
            (query, thread_id, before, limit),
        )
        return [_hit(row) for row in rows]

    def match_all(
        self, terms: Sequence[str], *, language: str, thread_id: str | None, limit: int
    ) -> list[SearchHit]:
        query = f"terms : ({fts5_query(terms)})"
        if thread_id is not None:
            query = f'thread : "{thread_token(thread_id)}" AND {query}'
        rows = self.read(
            "SELECT t.thread_id, t.turn, bm25(memoria_search, 0.0, 1.0) AS score, "
            "t.created_at, t.messages FROM memoria_search JOIN memoria_turns AS t "
            "ON t.id = memoria_search.rowid WHERE memoria_search MATCH ? AND t.language = ? "
            "AND (? IS NULL OR t.thread_id = ?) ORDER BY score LIMIT ?",
            (query, language, thread_id, thread_id, limit),
        )
        return [_hit(row) for row in rows]

    def term_frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many turns hold each term, and how many turns there are, over the whole database
        (FTS5's vocabulary). Counting a term reads its whole posting list, so frequent terms are
        remembered: once a term is in more than FREQUENT_SHARE of the turns, it counts as that
        frequent until the archive doubles."""
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
            for term, docs in self.read(
                f"SELECT term, doc FROM memoria_vocabulary WHERE term IN ({marks})", unknown
            ):
                counts[term] = int(docs)
                if docs > FREQUENT_SHARE * total:
                    self._frequent[term] = (int(docs), int(total))
        return counts, int(total)

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


def _hit(row: Sequence[Any]) -> SearchHit:
    thread_id, turn, score, created_at, raw = row
    return SearchHit(thread_id, turn, -score, created_at, raw)


def _columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    # PRAGMA takes no parameters; `table` is one of LangGraph's table names, never user input.
    return tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))


@functools.cache
def _saver_schema() -> dict[str, tuple[str, tuple[str, ...]]]:
    """LangGraph's checkpoint tables as its `SqliteSaver.setup` makes them: name -> (DDL, columns)."""
    with closing(sqlite3.connect(":memory:")) as scratch:
        SqliteSaver(scratch).setup()
        return {
            name: (ddl, _columns(scratch, name))
            for name, ddl in scratch.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
                schema.SQLITE.saver,
            )
        }


# Opening


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


def _prepare(conn: sqlite3.Connection, path: Path, *, init: bool) -> None:
    """Create or upgrade Memoria's schema (`schema.prepare`), under the setup lock."""
    schema.prepare(SqliteDialect(conn), str(path), init=init, analyzer=ANALYZER_VERSION)


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
                probe = SqliteDialect(conn)
                layout = schema.classify(probe.table_names(), probe.read_meta, schema.SQLITE)
                schema.check_readable(layout, str(path), ANALYZER_VERSION)
                # Reading never rebuilds an index another analysis built (it reads it as it
                # is); only Memoria 0.1's data, which has no index yet, is upgraded once.
                if layout.kind == "upgrade":
                    conn.close()
                    _upgrade_in_place(path)
                    conn = stack.enter_context(closing(_connect(str(path), read_only=True)))
                if layout.kind == "empty":
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
            archive = ThreadArchive(SqliteDialect(archive_conn))
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
        yield SqliteDatabase(location, saver, archive, locks, read_only=read_only)


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


class SqliteDatabase(Database):
    checkpointer: MemoriaSqliteSaver

    def reclaim(self) -> None:
        saver = self.checkpointer
        with saver.cursor(transaction=False):
            # Deleting from a contentless FTS5 index only records tombstones; merging its
            # segments drops them, so that the pages can be freed. executescript steps the vacuum
            # pragma to the end; `execute` would free a single page.
            saver.conn.executescript(
                "INSERT INTO memoria_search (memoria_search) VALUES ('optimize'); "
                "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);"
            )
